import type { DELIVERY_STATUS } from '../contract/constants.ts';
import type { ManagementStore } from '../contract/index.ts';
import type { PayloadOf } from '../contract/tasks.ts';
import { AppError } from './errors.ts';
import { listPage, type Page, type PageQuery } from './pagination.ts';
import { relayTaskView } from './relay/queries.ts';
import type { ImageLinkPolicy } from './tasks.ts';

/**
 * The write side of signed webhooks (SPEC §15): a submit's `notifyHook` is kept beside its task,
 * and every change of such a task adds one outbox row in the transaction that wrote the change,
 * so a crash or a restart loses no delivery. The worker (jobs/webhooks.ts) sends them.
 */

/** Longest hook URL accepted at submit. */
export const MAX_HOOK_URL_LENGTH = 2048;

/** Read lazily: the image-link policy current when a change is written (payloads show that). */
export type LinkPolicySource = () => ImageLinkPolicy;

/** Raw upstream links, for writers that were built without the app's options (some tests). */
const RAW_LINKS: ImageLinkPolicy = { forward: false, serverAddress: '' };

/**
 * The hook a submit body asks for: null when it has none (absent, null or blank), the trimmed URL
 * when it is http(s) and at most 2048 characters, and BAD_REQUEST naming notifyHook otherwise.
 */
export function hookUrlOf(body: Record<string, unknown>): string | null {
  const raw = body.notifyHook;
  if (raw === undefined || raw === null) return null;
  const bad = () =>
    new AppError(
      'BAD_REQUEST',
      `notifyHook must be an http(s) URL of at most ${MAX_HOOK_URL_LENGTH} characters`,
      'invalid_request',
    );
  if (typeof raw !== 'string') throw bad();
  const url = raw.trim();
  if (url === '') return null;
  if (url.length > MAX_HOOK_URL_LENGTH) throw bad();
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw bad();
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw bad();
  return url;
}

/**
 * The payload of a delivery: the task as `fetch` shows it when the change is written, with the
 * image-link policy read then (once per batch).
 */
export function webhookPayloadOf(now: number, links?: LinkPolicySource): PayloadOf {
  let policy: ImageLinkPolicy | undefined;
  return (row) => JSON.stringify(relayTaskView(row, (policy ??= links?.() ?? RAW_LINKS), now));
}

export type DeliveryStatus = (typeof DELIVERY_STATUS)[keyof typeof DELIVERY_STATUS];

/** One delivery as `webhook.list` shows it (never the payload: it may be large). */
export interface DeliveryView {
  id: number;
  task_id: number;
  mj_id: string;
  user_id: number;
  url: string;
  status: DeliveryStatus;
  attempts: number;
  last_error: string;
  next_attempt_at: number;
  created_time: number;
  delivered_time: number;
}

/** Deliveries newest first: one user's, or everyone's (`userId` null, admins). */
export async function listDeliveries(
  store: Pick<ManagementStore, 'deliveryLog'>,
  userId: number | null,
  query: PageQuery,
): Promise<Page<DeliveryView>> {
  return listPage(
    query,
    (limit, offset) => store.deliveryLog.list(userId, limit, offset),
    (r) => ({
      id: r.id,
      task_id: r.taskId,
      mj_id: r.mjId,
      user_id: r.userId,
      url: r.url,
      status: r.status,
      attempts: r.attempts,
      last_error: r.lastError,
      next_attempt_at: r.nextAttemptAt,
      created_time: r.createdTime,
      delivered_time: r.deliveredTime,
    }),
  );
}
