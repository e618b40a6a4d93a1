import { getTableColumns } from 'drizzle-orm';
import { LOG_TYPE } from '../../contract/constants.ts';
import type { ChargeInput, PayloadOf, RefundResult, SettleInput } from '../../contract/tasks.ts';
import type { PgDB } from './client.ts';
import {
  failAndRefundNotedPg,
  type FailurePatch as PgFailurePatch,
  settleAcceptedNotedPg,
  type WrittenHook,
} from './money.ts';
import { sendTaskNoteAfterCommit, TASK_NOTE_SQL } from './notify.ts';
import { insertDeliveriesPg } from './outbox.ts';
import { tasks } from './schema/tasks.ts';

/** The writer's notification payload, named `note` in its RETURNING (notify.ts). */
const NOTE = `${TASK_NOTE_SQL} AS note`;

/**
 * The TaskStore money methods on PostgreSQL, with the semantics of src/db/sqlite/money.ts and
 * settle.ts: each one transaction, every guard in the SQL that writes. Locks are taken in one
 * global order (task rows by id, then users, tokens, channels, each by id) so a charge, a
 * refund, a failover move and a sync batch never deadlock one another. With `notify`, a write that
 * changed a task also announces it (notify.ts TASKS_CHANNEL): each returns its note, sent once its
 * transaction has committed (sendTaskNoteAfterCommit, batched per pool), never when it rolled back.
 */

type NewTask = typeof tasks.$inferInsert;

/** Column SQL name and default of every task column but the id (identity). */
const INSERT_COLUMNS = Object.entries(getTableColumns(tasks))
  .filter(([key]) => key !== 'id')
  .map(([key, c]) => ({ key: key as keyof NewTask, name: c.name, fallback: c.default as unknown }));
const INSERT_NAMES = INSERT_COLUMNS.map((c) => c.name).join(', ');
const INSERT_VALUES = INSERT_COLUMNS.map((c) => `r.${c.name}`).join(', ');

/** The whole task row as JSON with SQL names, defaults filled in: one fixed statement text for any shape. */
function taskJson(input: ChargeInput): string {
  const row: NewTask = {
    ...input.task,
    userId: input.userId,
    tokenId: input.tokenId,
    channelId: input.channelId,
    quota: input.quota,
  };
  const out: Record<string, unknown> = {};
  for (const c of INSERT_COLUMNS) {
    const v = row[c.key];
    out[c.name] = v === undefined ? c.fallback : v;
  }
  return JSON.stringify(out);
}

/**
 * Charge a submission (`quota >= price` on the user and, unless unlimited, `remain_quota >= price`
 * on the token) and record its task, its hook and its consume row, in one transaction; nothing
 * written when short (a token refusal after the user's charge rolls the transaction back).
 */
export async function chargeAndRecordTaskPg(
  db: PgDB,
  input: ChargeInput,
  notify = false,
): Promise<number | 'quota_not_enough'> {
  const q = input.quota;
  const hookUrl = input.hookUrl ? input.hookUrl : null;
  // One statement, so one round trip and its own transaction: when the user could pay but the
  // token cannot, mj_refuse aborts it and the user's charge is undone with it.
  try {
    const [row] = await db.$client<Array<{ task_id: number | null; note: string | null }>>`
      WITH u AS (
        UPDATE users SET quota = quota - ${q}::bigint, used_quota = used_quota + ${q}::bigint, request_count = request_count + 1
        WHERE id = ${input.userId}::int AND quota >= ${q}::bigint RETURNING id),
      k AS (
        UPDATE tokens SET used_quota = used_quota + ${q}::bigint,
          remain_quota = CASE WHEN ${input.unlimitedToken}::boolean THEN remain_quota ELSE remain_quota - ${q}::bigint END
        WHERE id = ${input.tokenId}::int AND (${input.unlimitedToken}::boolean OR remain_quota >= ${q}::bigint)
          AND EXISTS (SELECT 1 FROM u) RETURNING id),
      t AS (
        INSERT INTO tasks (${db.$client.unsafe(INSERT_NAMES)})
        SELECT ${db.$client.unsafe(INSERT_VALUES)} FROM jsonb_populate_record(NULL::tasks, ${taskJson(input)}::jsonb) r
        WHERE EXISTS (SELECT 1 FROM k) RETURNING id, mj_id, ${db.$client.unsafe(NOTE)}),
      c AS (UPDATE channels SET used_quota = used_quota + ${q}::bigint WHERE id = ${input.channelId}::int AND EXISTS (SELECT 1 FROM t) RETURNING 1),
      h AS (
        INSERT INTO task_webhooks (task_id, user_id, token_id, url)
        SELECT t.id, ${input.userId}::int, ${input.tokenId}::int, ${hookUrl}::text FROM t WHERE ${hookUrl}::text IS NOT NULL
        ON CONFLICT (task_id) DO UPDATE SET url = excluded.url RETURNING 1),
      l AS (
        INSERT INTO logs (user_id, type, content, quota, model_name, channel_id, token_id, mj_id, task_id, created_time)
        SELECT ${input.userId}::int, ${LOG_TYPE.consume}::int, ${input.modelName}::text || ' charged ' || ${q}::bigint || ' for task ' || t.id,
          ${q}::bigint, ${input.modelName}::text, ${input.channelId}::int, ${input.tokenId}::int, t.mj_id, t.id, ${input.now}::bigint
        FROM t WHERE ${q}::bigint > 0 RETURNING 1)
      -- Read in this order, the sub-statements lock the user, the token, then the channel.
      -- EXISTS, not count(*): every CTE here yields at most one row, and an aggregate per CTE was
      -- executor set-up on every submit.
      SELECT (SELECT id FROM t) AS task_id, EXISTS (SELECT 1 FROM c) AS c, EXISTS (SELECT 1 FROM h) AS h, EXISTS (SELECT 1 FROM l) AS l,
        (SELECT note FROM t) AS note,
        CASE WHEN EXISTS (SELECT 1 FROM u) AND NOT EXISTS (SELECT 1 FROM k) THEN mj_refuse('quota_not_enough') END AS refused`;
    if (!row?.task_id) return 'quota_not_enough';
    if (notify) sendTaskNoteAfterCommit(db, row.note);
    return row.task_id;
  } catch (err) {
    if (isRefusal(err)) return 'quota_not_enough';
    throw err;
  }
}

/** The SQLSTATE of mj_refuse (drizzle/pg 0008): a guard refused after an earlier sub-statement wrote; the statement rolled back. */
function isRefusal(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'MJ001';
}

/** The upstream accepted: compare-and-set on "still unfinished", the consume row named, the webhook queued, in one transaction. */
export async function settleTaskPg(
  db: PgDB,
  input: SettleInput,
  hook: PayloadOf | null,
  notify = false,
): Promise<boolean> {
  const p = input.params;
  const patch = {
    mjId: p.mjId,
    code: p.code,
    description: p.description,
    properties: p.properties,
    status: p.status,
    progress: p.progress,
    updatedTime: p.now,
    ...(input.done ? { startTime: p.now, finishTime: p.now } : {}),
    ...(input.withImage ? { imageUrl: p.imageUrl } : {}),
  };
  // Without a webhook the statement alone is the transaction (one round trip). A delivery's
  // payload is built here from the row the write returns, and queued by a second statement in
  // the same transaction.
  const r = hook
    ? await db.$client.begin(async (sql) => {
        const w = await settleAcceptedNotedPg(sql, p.taskId, patch, false, true);
        if (w.hooked) await insertDeliveriesPg(sql, [deliveryOf(w.hooked, hook)], p.now);
        return w;
      })
    : await settleAcceptedNotedPg(db, p.taskId, patch, false, false);
  if (notify) sendTaskNoteAfterCommit(db, r.note);
  return r.won;
}

/** The delivery of a written task's change to its hook (the payload is the task as written). */
export function deliveryOf(w: WrittenHook, payloadOf: PayloadOf) {
  return {
    taskId: w.task.id,
    userId: w.userId,
    tokenId: w.tokenId,
    url: w.url,
    mjId: w.task.mjId,
    payload: payloadOf(w.task),
  };
}

/** The patch fields failAndRefundPg writes; any other key is a caller's mistake, refused loudly. */
const PATCH_KEYS: ReadonlySet<string> = new Set([
  'failReason',
  'status',
  'progress',
  'finishTime',
  'startTime',
  'code',
  'description',
  'mjId',
  'promptEn',
  'state',
  'imageUrl',
  'videoUrl',
  'videoUrls',
  'buttons',
  'properties',
]);

/** The open failure patch of the TaskStore interface as failAndRefundPg's closed one (undefined values dropped). */
export function pgFailurePatch(patch: { failReason: string; [field: string]: unknown }): PgFailurePatch {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) continue;
    if (!PATCH_KEYS.has(k)) throw new Error(`failure patch field ${k} is not written on PostgreSQL`);
    out[k] = v;
  }
  return out as unknown as PgFailurePatch;
}

/**
 * End an unfinished task holding `expectedQuota` as failed and refund it, exactly once; the winner
 * queues the webhook (`hook`) in the same transaction.
 */
export async function failAndRefundTaskPg(
  db: PgDB,
  taskId: number,
  expectedQuota: number,
  patch: { failReason: string; [field: string]: unknown },
  now: number,
  modelName: string,
  hook?: PayloadOf,
  notify = false,
): Promise<RefundResult> {
  const p = pgFailurePatch(patch);
  const r = hook
    ? await db.$client.begin(async (sql) => {
        const w = await failAndRefundNotedPg(sql, taskId, expectedQuota, p, now, modelName, false, true);
        if (w.hooked) await insertDeliveriesPg(sql, [deliveryOf(w.hooked, hook)], now);
        return w;
      })
    : await failAndRefundNotedPg(db, taskId, expectedQuota, p, now, modelName, false, false);
  if (notify) sendTaskNoteAfterCommit(db, r.note);
  return { won: r.won, refunded: r.refunded };
}

/**
 * Failover: re-point an unfinished task from channel `from` to `to`, moving its charge's share of
 * channel used_quota and the channel of its consume log; false (nothing moved) when the task is no
 * longer unfinished on `from`. One statement: the task row first, then both channels in id order.
 */
export async function moveTaskChannelPg(
  db: PgDB,
  taskId: number,
  from: number,
  to: number,
  now: number,
  notify = false,
): Promise<boolean> {
  const [row] = await db.$client<Array<{ moved: number; note: string | null }>>`
    WITH t AS (
      UPDATE tasks SET channel_id = ${to}::int, updated_time = ${now}::bigint
      WHERE id = ${taskId}::int AND channel_id = ${from}::int AND progress <> '100%' RETURNING id, quota, user_id, token_id, ${db.$client.unsafe(NOTE)}),
    mv AS (
      INSERT INTO logs (user_id, type, content, quota, channel_id, token_id, task_id, created_time)
      SELECT t.user_id, ${LOG_TYPE.system}::int, ${`moved from channel ${from} to channel ${to}`}::text, 0, ${to}::int, t.token_id, t.id,
        ${now}::bigint FROM t RETURNING 1),
    lk AS (
      SELECT c.id FROM channels c, t WHERE c.id IN (${from}::int, ${to}::int) AND t.quota > 0 AND ${from}::int <> ${to}::int
      ORDER BY c.id FOR UPDATE OF c),
    c AS (
      UPDATE channels SET used_quota = CASE WHEN channels.id = ${from}::int THEN greatest(channels.used_quota - t.quota, 0)
        ELSE channels.used_quota + t.quota END
      FROM t WHERE channels.id IN (SELECT id FROM lk) RETURNING 1),
    l AS (
      UPDATE logs SET channel_id = ${to}::int FROM t WHERE logs.task_id = t.id AND logs.type = ${LOG_TYPE.consume}::int RETURNING 1)
    SELECT (SELECT count(*) FROM t)::int AS moved, (SELECT count(*) FROM lk) AS lk, (SELECT count(*) FROM c) AS c, (SELECT count(*) FROM l) AS l,
      (SELECT count(*) FROM mv) AS mv, (SELECT note FROM t) AS note`;
  if (notify) sendTaskNoteAfterCommit(db, row!.note);
  return row!.moved === 1;
}
