import { inArray } from 'drizzle-orm';
import { DELIVERY_STATUS, taskWebhooks, tasks, webhookDeliveries } from '../db/schema/index.ts';
import type { DbLike } from '../db/types.ts';
import { AppError } from './errors.ts';
import { type Page, type PageQuery, pageOf } from './pagination.ts';
import { relayTaskView } from './relay/queries.ts';
import type { ManagementStore } from './store/index.ts';
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
  const bad = () => new AppError('BAD_REQUEST', `notifyHook must be an http(s) URL of at most ${MAX_HOOK_URL_LENGTH} characters`, 'invalid_request');
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

/** Remember where a task's changes go; call in the transaction that inserts the task. */
export function recordTaskHook(tx: DbLike, hook: { taskId: number; userId: number; tokenId: number; url: string }): void {
  tx.insert(taskWebhooks).values(hook).onConflictDoUpdate({ target: taskWebhooks.taskId, set: { url: hook.url } }).run();
}

/**
 * Add one delivery per hooked task among `taskIds`, carrying the task as `fetch` shows it now.
 * Call inside the transaction that wrote the change, after the write; tasks without a hook cost
 * one primary-key lookup. Returns how many deliveries were queued.
 */
export function enqueueTaskChange(tx: DbLike, taskIds: readonly number[], now: number, links?: LinkPolicySource): number {
  if (taskIds.length === 0) return 0;
  const hooks = tx.select().from(taskWebhooks).where(inArray(taskWebhooks.taskId, [...new Set(taskIds)])).all();
  if (hooks.length === 0) return 0;
  const rows = tx.select().from(tasks).where(inArray(tasks.id, hooks.map((h) => h.taskId))).all();
  const byId = new Map(rows.map((r) => [r.id, r]));
  const policy = links?.() ?? RAW_LINKS;
  let queued = 0;
  for (const hook of hooks) {
    const row = byId.get(hook.taskId);
    if (!row) continue;
    tx.insert(webhookDeliveries).values({
      taskId: row.id, userId: hook.userId, tokenId: hook.tokenId, mjId: row.mjId, url: hook.url,
      payload: JSON.stringify(relayTaskView(row, policy, now)), status: DELIVERY_STATUS.pending,
      attempts: 0, nextAttemptAt: now, createdTime: now,
    }).run();
    queued++;
  }
  return queued;
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
export async function listDeliveries(store: Pick<ManagementStore, 'deliveryLog'>, userId: number | null, query: PageQuery): Promise<Page<DeliveryView>> {
  const { page, pageSize, offset } = pageOf(query);
  const { rows, total } = await store.deliveryLog.list(userId, pageSize, offset);
  return {
    items: rows.map((r) => ({
      id: r.id, task_id: r.taskId, mj_id: r.mjId, user_id: r.userId, url: r.url, status: r.status, attempts: r.attempts,
      last_error: r.lastError, next_attempt_at: r.nextAttemptAt, created_time: r.createdTime, delivered_time: r.deliveredTime,
    })),
    total, page, page_size: pageSize,
  };
}
