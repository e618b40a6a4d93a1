import type { Sql, TransactionSql } from 'postgres';
import { LOG_TYPE } from '../../contract/constants.ts';
import type { TaskRow, UserRow } from '../../contract/rows.ts';
import type { RefundResult } from '../../contract/tasks.ts';
import type { PgDB } from './client.ts';
import { TASK_NOTE_SQL, TASKS_CHANNEL } from './notify.ts';
import { PG_TASK_COLUMNS_SQL } from './task-reads.ts';

/** The writer's notification payload, named `note` in its RETURNING (notify.ts). */
const NOTE = `${TASK_NOTE_SQL} AS note`;

/**
 * The money paths on PostgreSQL, with the semantics of src/db/sqlite/money.ts and the admin quota
 * changes of src/domain/users.ts: every guard (`quota >= price`, the refund's compare-and-set) is
 * in the SQL statement that writes, so concurrent replicas never overdraw and never refund twice.
 * Values in and out are plain (db/ may not import domain/): the adapter maps `null` / `won: false`
 * to its errors. Locks are taken in one order everywhere (task row, user, token, channel) so a
 * charge and a refund cannot deadlock: each statement's SELECT list reads its sub-statements in
 * that order, which is when PostgreSQL runs them.
 */

/** What a caller may pass where a statement runs: the pool, or an open transaction. */
export type PgRunner = PgDB | TransactionSql;
const runner = (r: PgRunner): Sql | TransactionSql => ('$client' in r ? r.$client : r);

/** What the upstream's acceptance writes on the task (optional fields keep the stored value). */
export interface AcceptPatch {
  mjId: string;
  code: number;
  description: string;
  properties: string;
  status: string;
  progress: string;
  startTime?: number;
  finishTime?: number;
  imageUrl?: string;
  updatedTime: number;
}

/**
 * Write the upstream's acceptance onto a still-unfinished task (compare-and-set on
 * `progress <> '100%'`) and, in the same statement, its mj_id onto the task's consume log.
 * With `notify`, the winner also announces the task (notify.ts TASKS_CHANNEL), in the same statement.
 * Returns whether this call won.
 */
export async function settleAcceptedPg(db: PgRunner, taskId: number, p: AcceptPatch, notify = false): Promise<boolean> {
  return (await settleAcceptedNotedPg(db, taskId, p, notify, false)).won;
}

/** A written task with where its change goes: what a webhook delivery is made of, with no read after the write. */
export interface WrittenHook {
  task: TaskRow;
  userId: number;
  tokenId: number;
  url: string;
}

/** The task's whole row as written and its hook (null when it has none or the write lost), as one JSON column. */
const HOOKED_TAIL = `, (SELECT json_build_object('task', to_jsonb(x), 'userId', h.user_id, 'tokenId', h.token_id, 'url', h.url)
  FROM (SELECT ${PG_TASK_COLUMNS_SQL} FROM t) x JOIN task_webhooks h ON h.task_id = x.id) AS hooked`;

/** settleAcceptedPg that also returns the written task with its hook, for a delivery queued in the same transaction. */
export function settleAcceptedHookedPg(
  db: PgRunner,
  taskId: number,
  p: AcceptPatch,
  notify: boolean,
): Promise<{ won: boolean; hooked: WrittenHook | null }> {
  return settleAcceptedNotedPg(db, taskId, p, notify, true);
}

/** What a settle or refund wrote: with `note`, the task's notification (notify.ts TASK_NOTE_SQL), null when it lost. */
export interface Noted {
  note: string | null;
}

/**
 * The settle with everything it returns: `notify` sends the notification inside the statement;
 * without it the note comes back for the caller to send once its transaction has committed.
 */
export async function settleAcceptedNotedPg(
  db: PgRunner,
  taskId: number,
  p: AcceptPatch,
  notify: boolean,
  hooked: boolean,
): Promise<{ won: boolean; hooked: WrittenHook | null } & Noted> {
  const sql = runner(db);
  const [row] = await sql<Array<{ won: boolean; hooked?: WrittenHook | null; note: string | null }>>`
    WITH t AS (
      UPDATE tasks SET mj_id = ${p.mjId}::text, code = ${p.code}::int, description = ${p.description}::text,
        properties = ${p.properties}::text, status = ${p.status}::text, progress = ${p.progress}::text,
        start_time = coalesce(${p.startTime ?? null}::bigint, start_time), finish_time = coalesce(${p.finishTime ?? null}::bigint, finish_time),
        image_url = coalesce(${p.imageUrl ?? null}::text, image_url), updated_time = ${p.updatedTime}::bigint
      WHERE id = ${taskId}::int AND progress <> '100%' RETURNING ${sql.unsafe(hooked ? `*, ${NOTE}` : `id, mj_id, ${NOTE}`)}),
    l AS (
      UPDATE logs SET mj_id = t.mj_id FROM t
      WHERE logs.task_id = t.id AND logs.type = ${LOG_TYPE.consume}::int AND t.mj_id <> '' RETURNING 1),
    n AS (SELECT pg_notify(${TASKS_CHANNEL}::text, t.note) FROM t WHERE ${notify}::boolean)
    SELECT EXISTS (SELECT 1 FROM t) AS won, EXISTS (SELECT 1 FROM l) AS l, EXISTS (SELECT 1 FROM n) AS n,
      (SELECT note FROM t) AS note${sql.unsafe(hooked ? HOOKED_TAIL : '')}`;
  return { won: row!.won, hooked: row!.hooked ?? null, note: row!.note };
}

/** Name the upstream task on a task's consume row (a no-op for an empty mj_id). */
export async function recordConsumeMjIdPg(db: PgRunner, taskId: number, mjId: string): Promise<void> {
  if (mjId === '') return;
  await runner(
    db,
  )`UPDATE logs SET mj_id = ${mjId}::text WHERE task_id = ${taskId}::int AND type = ${LOG_TYPE.consume}::int`;
}

/** Fields written on the task with a refund (its final failure state); absent ones keep the stored value. */
export interface FailurePatch {
  failReason: string;
  status?: string;
  progress?: string;
  finishTime?: number;
  startTime?: number;
  code?: number;
  description?: string;
  /** A rejected submit may still carry an upstream id: the task and its charge are named by it. */
  mjId?: string;
  promptEn?: string;
  state?: string;
  imageUrl?: string;
  videoUrl?: string;
  videoUrls?: string;
  buttons?: string;
  properties?: string;
}

/**
 * End an unfinished task as failed and give back what it holds, exactly once, in one statement:
 * the task row changes only if it is still unfinished and still holds `expectedQuota`
 * (compare-and-set), and only then are the user, the token (unless unlimited) and the channel
 * credited and the refund log (task_id, mj_id) written. With `notify`, the winner also announces the task.
 */
export async function failAndRefundPg(
  db: PgRunner,
  taskId: number,
  expectedQuota: number,
  p: FailurePatch,
  now: number,
  modelName: string,
  notify = false,
): Promise<RefundResult> {
  const { won, refunded } = await failAndRefundNotedPg(db, taskId, expectedQuota, p, now, modelName, notify, false);
  return { won, refunded };
}

/** failAndRefundPg that also returns the written task with its hook, for a delivery queued in the same transaction. */
export function failAndRefundHookedPg(
  db: PgRunner,
  taskId: number,
  expectedQuota: number,
  p: FailurePatch,
  now: number,
  modelName: string,
  notify: boolean,
): Promise<RefundResult & { hooked: WrittenHook | null }> {
  return failAndRefundNotedPg(db, taskId, expectedQuota, p, now, modelName, notify, true);
}

/** The refund with everything it returns; `notify` as for settleAcceptedNotedPg. */
export async function failAndRefundNotedPg(
  db: PgRunner,
  taskId: number,
  expectedQuota: number,
  p: FailurePatch,
  now: number,
  modelName: string,
  notify: boolean,
  hooked: boolean,
): Promise<RefundResult & { hooked: WrittenHook | null } & Noted> {
  const sql = runner(db);
  const q = expectedQuota;
  const n = <T>(v: T | undefined): T | null => (v === undefined ? null : v);
  const [row] = await sql<Array<{ won: number; hooked?: WrittenHook | null; note: string | null }>>`
    WITH t AS (
      UPDATE tasks SET status = coalesce(${n(p.status)}::text, 'FAILURE'), progress = coalesce(${n(p.progress)}::text, '100%'),
        fail_reason = ${p.failReason}::text, finish_time = coalesce(${n(p.finishTime)}::bigint, finish_time),
        start_time = coalesce(${n(p.startTime)}::bigint, start_time), code = coalesce(${n(p.code)}::int, code),
        description = coalesce(${n(p.description)}::text, description), mj_id = coalesce(${n(p.mjId)}::text, mj_id),
        prompt_en = coalesce(${n(p.promptEn)}::text, prompt_en), state = coalesce(${n(p.state)}::text, state),
        image_url = coalesce(${n(p.imageUrl)}::text, image_url), video_url = coalesce(${n(p.videoUrl)}::text, video_url),
        video_urls = coalesce(${n(p.videoUrls)}::text, video_urls), buttons = coalesce(${n(p.buttons)}::text, buttons),
        properties = coalesce(${n(p.properties)}::text, properties), quota = 0, updated_time = ${now}::bigint
      WHERE id = ${taskId}::int AND quota = ${q}::bigint AND progress <> '100%'
      RETURNING ${sql.unsafe(hooked ? `*, ${NOTE}` : `id, user_id, token_id, channel_id, mj_id, ${NOTE}`)}),
    u AS (
      UPDATE users SET quota = users.quota + ${q}::bigint, used_quota = greatest(users.used_quota - ${q}::bigint, 0)
      FROM t WHERE users.id = t.user_id AND ${q}::bigint > 0 RETURNING 1),
    k AS (
      UPDATE tokens SET remain_quota = CASE WHEN unlimited_quota THEN remain_quota ELSE remain_quota + ${q}::bigint END,
        used_quota = greatest(tokens.used_quota - ${q}::bigint, 0)
      FROM t WHERE tokens.id = t.token_id AND ${q}::bigint > 0 RETURNING 1),
    c AS (
      UPDATE channels SET used_quota = greatest(channels.used_quota - ${q}::bigint, 0)
      FROM t WHERE channels.id = t.channel_id AND ${q}::bigint > 0 RETURNING 1),
    l AS (
      INSERT INTO logs (user_id, type, content, quota, model_name, channel_id, token_id, mj_id, task_id, created_time)
      SELECT t.user_id, ${LOG_TYPE.refund}::int, left('refund: ' || ${p.failReason}::text, 500), ${q}::bigint, ${modelName}::text,
        t.channel_id, t.token_id, t.mj_id, t.id, ${now}::bigint
      FROM t WHERE ${q}::bigint > 0 RETURNING 1),
    m AS (
      UPDATE logs SET mj_id = t.mj_id FROM t
      WHERE logs.task_id = t.id AND logs.type = ${LOG_TYPE.consume}::int AND ${q}::bigint > 0
        AND ${p.mjId !== undefined}::boolean AND t.mj_id <> '' RETURNING 1),
    n AS (SELECT pg_notify(${TASKS_CHANNEL}::text, t.note) FROM t WHERE ${notify}::boolean)
    -- Read in this order, the sub-statements lock the task row, then the user, the token and the
    -- channel: the charge's order. (Unread ones would run last, in reverse: a deadlock with a charge.)
    SELECT (SELECT count(*) FROM t)::int AS won, (SELECT count(*) FROM u) AS u, (SELECT count(*) FROM k) AS k,
      (SELECT count(*) FROM c) AS c, (SELECT count(*) FROM l) AS l, (SELECT count(*) FROM m) AS m, (SELECT count(*) FROM n) AS n,
      (SELECT note FROM t) AS note${sql.unsafe(hooked ? HOOKED_TAIL : '')}`;
  const won = row!.won === 1;
  return { won, refunded: won ? q : 0, hooked: row!.hooked ?? null, note: row!.note };
}

const USER_COLUMNS = `id, username, display_name AS "displayName", role, status, access_token AS "accessToken", quota,
  used_quota AS "usedQuota", request_count AS "requestCount", created_time AS "createdTime"`;

/**
 * Set a user's quota (an admin's change) and write the signed change as a system log row, so the
 * logs alone rebuild every balance (Σ system − Σ consume + Σ refund). One statement: the row is
 * locked, the delta read from the locked row, so a charge landing at the same moment cannot skew
 * it. Returns the updated row, or null for no such user.
 */
export async function setQuotaLoggedPg(
  db: PgRunner,
  userId: number,
  quota: number,
  who: string,
  now: number,
): Promise<UserRow | null> {
  const sql = runner(db);
  const [row] = await sql<UserRow[]>`
    WITH o AS (SELECT id, quota AS before FROM users WHERE id = ${userId}::int FOR UPDATE),
    u AS (UPDATE users SET quota = ${quota}::bigint FROM o WHERE users.id = o.id RETURNING users.*),
    l AS (
      INSERT INTO logs (user_id, type, content, quota, created_time)
      SELECT o.id, ${LOG_TYPE.system}::int,
        left('quota set to ' || ${quota}::bigint || ' (' || CASE WHEN ${quota}::bigint > o.before THEN '+' ELSE '' END
          || (${quota}::bigint - o.before) || ') ' || ${who}::text, 500),
        ${quota}::bigint - o.before, ${now}::bigint
      FROM o WHERE o.before <> ${quota}::bigint)
    SELECT ${sql.unsafe(USER_COLUMNS)} FROM u`;
  return row ?? null;
}

/** Add to a user's quota (a grant), logged like an admin's change, in one statement. */
export async function grantQuotaLoggedPg(
  db: PgRunner,
  userId: number,
  delta: number,
  why: string,
  now: number,
): Promise<boolean> {
  if (delta === 0) return true;
  const [row] = await runner(db)<Array<{ n: number }>>`
    WITH u AS (UPDATE users SET quota = quota + ${delta}::bigint WHERE id = ${userId}::int RETURNING id),
    l AS (
      INSERT INTO logs (user_id, type, content, quota, created_time)
      SELECT id, ${LOG_TYPE.system}::int, left('quota ' || ${delta > 0 ? '+' : ''}::text || ${delta}::bigint || ' ' || ${why}::text, 500),
        ${delta}::bigint, ${now}::bigint FROM u)
    SELECT count(*)::int AS n FROM u`;
  return row!.n === 1;
}
