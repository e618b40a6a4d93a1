import { CHANNEL_STATUS } from '../../contract/constants.ts';
import type { TaskRow } from '../../contract/rows.ts';
import { callUpstream } from '../../upstream/http.ts';
import { AnswerBudget, limitsOf, ownTurn, withListingPlace } from '../answer-limits.ts';
import { boundTaskItem, LISTING_ITEM_BUDGET_BYTES } from '../bounds.ts';
import { getChannelFrom } from '../channels.ts';
import { AppError } from '../errors.ts';
import { parseJsonText } from '../task-json.ts';
import { forwardedImageUrl, type ImageLinkPolicy } from '../tasks.ts';
import { issueMessage, listByConditionSchema, requireObject } from './schemas.ts';
import type { RelayAnswer, RelayEnv } from './types.ts';
import type { RelayTaskView } from './views.ts';

/**
 * Task queries of the relay (SPEC §7.3): fetch and list-by-condition are answered from the local
 * database in the upstream's camelCase shape; image-seed is forwarded to the task's channel.
 */

/** Stored as `["url", ...]` (SPEC §6.1); shown in the upstream's `[{ url }]` shape. */
function videoUrlsOf(text: string): { url: string }[] | null {
  const v = parseJsonText(text);
  if (!Array.isArray(v)) return null;
  const out: { url: string }[] = [];
  for (const item of v) {
    if (typeof item === 'string') out.push({ url: item });
    else if (typeof item === 'object' && item !== null && typeof (item as { url?: unknown }).url === 'string') {
      out.push({ url: (item as { url: string }).url });
    }
  }
  return out;
}

function linkPolicy(env: RelayEnv): ImageLinkPolicy {
  return { forward: env.options.get('mj_forward_url_enabled'), serverAddress: env.serverAddress() };
}

/**
 * The fetch shape of one row. Forwarded image links of unfinished tasks carry `?rand=<now>` so
 * that browsers do not cache a progress preview as the final image.
 */
export function relayTaskView(row: TaskRow, policy: ImageLinkPolicy, now: number): RelayTaskView {
  // The same bounds as a listing item: list-by-condition answers up to 500 of these.
  const b = boundTaskItem({
    mj_id: row.mjId,
    action: row.action,
    status: row.status,
    progress: row.progress,
    prompt: row.prompt,
    prompt_en: row.promptEn,
    fail_reason: row.failReason,
    description: row.description,
    state: row.state,
    image_url: forwardedImageUrl(row, policy),
    video_url: row.videoUrl,
    video_urls: row.videoUrls,
    buttons: row.buttons,
    properties: row.properties,
  });
  let imageUrl = b.image_url;
  if (imageUrl && policy.forward && row.status !== 'SUCCESS') imageUrl += `?rand=${now}`;
  const buttons = parseJsonText(b.buttons);
  const properties = parseJsonText(b.properties);
  return {
    id: b.mj_id,
    action: b.action,
    prompt: b.prompt,
    promptEn: b.prompt_en,
    description: b.description,
    state: b.state,
    submitTime: row.submitTime,
    startTime: row.startTime,
    finishTime: row.finishTime,
    imageUrl,
    videoUrl: b.video_url,
    videoUrls: videoUrlsOf(b.video_urls),
    status: b.status,
    progress: b.progress || '0%',
    failReason: b.fail_reason,
    buttons: Array.isArray(buttons) ? buttons : null,
    properties:
      typeof properties === 'object' && properties !== null && !Array.isArray(properties)
        ? (properties as Record<string, unknown>)
        : null,
  };
}

async function ownTask(env: RelayEnv, userId: number, mjId: string): Promise<TaskRow> {
  const id = mjId.trim();
  const row = id ? await env.taskStore.tasks.findByMjId(id, userId) : null;
  if (!row) throw new AppError('NOT_FOUND', 'task_not_found', 'task_not_found');
  return row;
}

/** `GET /mj/task/:id/fetch`: the caller's own task, or NOT_FOUND `task_not_found`. */
export async function fetchRelayTask(env: RelayEnv, userId: number, mjId: string): Promise<RelayTaskView> {
  return relayTaskView(await ownTask(env, userId, mjId), linkPolicy(env), env.clock.now());
}

/** Ids read per statement: what is read before it is measured stays a small part of the budget. */
const IDS_PER_READ = 25;

/**
 * `POST /mj/task/list-by-condition {ids}`: the caller's tasks among the ids; others are dropped.
 * One of the user's listing places (SPEC §10); the answer is measured slice by slice as it is
 * read, and refused (413) as soon as it would pass the budget, before the rest is read.
 */
export async function listRelayTasks(env: RelayEnv, userId: number, body: unknown): Promise<RelayTaskView[]> {
  const parsed = listByConditionSchema.safeParse(requireObject(body));
  if (!parsed.success) throw new AppError('BAD_REQUEST', issueMessage(parsed.error), 'invalid_request');
  const ids = [...new Set((parsed.data.ids ?? []).map((s) => s.trim()).filter((s) => s.length > 0))];
  if (ids.length === 0) return [];
  const limit = limitsOf(env.taskStore).answerBytes;
  const budget = new AnswerBudget(limit);
  return withListingPlace(
    env.taskStore,
    userId,
    async () => {
      // The whole answer's least size from the stored lengths first: one that cannot fit reads no row.
      if (env.taskStore.tasks.ownByMjIdsSize)
        budget.check(await env.taskStore.tasks.ownByMjIdsSize(userId, ids, LISTING_ITEM_BUDGET_BYTES));
      const policy = linkPolicy(env);
      const now = env.clock.now();
      const views: Array<{ id: number; view: RelayTaskView }> = [];
      for (let i = 0; i < ids.length; i += IDS_PER_READ) {
        const rows = await env.taskStore.tasks.ownByMjIds(userId, ids.slice(i, i + IDS_PER_READ));
        // One answer per upstream id: the newest row wins should an id ever repeat (a slice holds all rows of its ids).
        const byId = new Map<string, TaskRow>();
        for (const row of rows) byId.set(row.mjId, row);
        const reserved = budget.reserveRows([...byId.values()]);
        const slice = [...byId.values()].map((row) => ({ id: row.id, view: relayTaskView(row, policy, now) }));
        budget.takeAll(
          slice.map((v) => v.view),
          reserved,
        );
        views.push(...slice);
        // Other requests get a turn of the event loop between slices.
        await ownTurn();
      }
      return views.sort((a, b) => a.id - b.id).map((v) => v.view);
    },
    budget,
  );
}

/**
 * `GET /mj/task/:id/image-seed`: forwarded to the task's channel with that channel's key; the
 * upstream status and JSON body are passed through.
 */
export async function relayImageSeed(env: RelayEnv, userId: number, mjId: string, path: string): Promise<RelayAnswer> {
  const row = await ownTask(env, userId, mjId);
  const channel = await getChannelFrom(env.store, row.channelId);
  if (!channel) throw new AppError('BAD_REQUEST', 'channel_not_found', 'channel_not_found');
  if (channel.status !== CHANNEL_STATUS.enabled)
    throw new AppError('BAD_REQUEST', 'channel_disabled', 'channel_disabled');
  const timeoutMs = Math.min(30_000, env.upstreamTimeoutMs);
  const outcome = await callUpstream(
    env.fetch,
    { baseUrl: channel.baseUrl, key: channel.key },
    { method: 'GET', path, timeoutMs },
  );
  if (outcome.kind === 'timeout') throw new AppError('TIMEOUT', 'upstream_timeout', 'upstream_timeout');
  if (outcome.kind === 'network') {
    env.logger.warn('image-seed upstream call failed', { channelId: channel.id, error: outcome.message });
    throw new AppError('UPSTREAM', 'do_request_failed', 'do_request_failed');
  }
  if (outcome.json === undefined)
    throw new AppError('UPSTREAM', 'unmarshal_response_body_failed', 'unmarshal_response_body_failed');
  return { status: outcome.status, body: outcome.json };
}
