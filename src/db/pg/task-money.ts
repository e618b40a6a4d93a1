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

/** The whole task row as JSON with SQL names, defaults filled in (mj_charge_task inserts every column from it). */
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
  const hookUrl = input.hookUrl ? input.hookUrl : null;
  // One call, so one round trip and its own transaction (drizzle/pg 0016): when the user could pay
  // but the token cannot, the function raises MJ001 and the user's charge is undone with it.
  try {
    const [row] = await db.$client<Array<{ task_id: number; note: string }>>`
      SELECT id AS task_id, ${db.$client.unsafe(NOTE)} FROM mj_charge_task(${input.userId}::int, ${input.tokenId}::int,
        ${input.unlimitedToken}::boolean, ${input.channelId}::int, ${input.quota}::bigint, ${input.modelName}::text,
        ${LOG_TYPE.consume}::int, ${input.now}::bigint, ${hookUrl}::text, ${taskJson(input)}::jsonb)`;
    if (!row) return 'quota_not_enough';
    if (notify) sendTaskNoteAfterCommit(db, row.note);
    return row.task_id;
  } catch (err) {
    if (isRefusal(err)) return 'quota_not_enough';
    throw err;
  }
}

/** The SQLSTATE of mj_refuse (drizzle/pg 0008) and of mj_charge_task (0016): a guard refused after an earlier write; the statement rolled back. */
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
