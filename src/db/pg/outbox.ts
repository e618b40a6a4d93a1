import type { Sql, TransactionSql } from 'postgres';
import type { DeliveryRow, TaskRow } from '../../contract/rows.ts';
import type { DeliverySecrets, PayloadOf } from '../../contract/tasks.ts';
import {
  QUEUE_SCAN,
  QUEUES_PER_LOOK,
  QUEUES_PER_USER_PER_LOOK,
  type QueueCursor,
  ROWS_PER_QUEUE,
  ROWS_PER_USER,
  receiverOf,
  takeWalk,
} from '../../lib/webhook-receiver.ts';
import type { PgDB } from './client.ts';
import type { PgRunner } from './money.ts';

/**
 * The webhook outbox on PostgreSQL, with the semantics of src/domain/webhooks.ts (the write side:
 * hooks and deliveries written in the transaction of the task change) and
 * src/domain/webhooks-outbox.ts (the worker's side: every state change a compare-and-set on the
 * row's (id, attempts) and pending status; a row claimed before it is sent by pushing
 * `next_attempt_at` past the send's timeout). Rows come back named as the SQLite DeliveryRow, so
 * src/jobs/webhooks.ts takes them unchanged. The payload (relayTaskView) is domain logic: the
 * adapter builds it from the task row and passes the text in.
 */

const runner = (r: PgRunner): Sql | TransactionSql => ('$client' in r ? r.$client : r);

/** Mirrors of src/domain/webhooks-sign.ts and src/db/sqlite/outbox-worker.ts (a test holds them equal). */
export const PG_MAX_DELIVERY_ATTEMPTS = 8;
export const PG_FIRST_RETRY_DELAY_MS = 1000;
export const PG_CLAIM_LEASE_MS = 15_000;
const LAST_ERROR_MAX = 500;

/** Delay before the next attempt, after `attempts` failed ones (1 → 1 s, 2 → 2 s, 3 → 4 s, ...). */
export function pgRetryDelayMs(attempts: number): number {
  return PG_FIRST_RETRY_DELAY_MS * 2 ** Math.max(0, attempts - 1);
}

const DELIVERY_COLUMNS = `d.id, d.task_id AS "taskId", d.user_id AS "userId", d.token_id AS "tokenId", d.mj_id AS "mjId", d.url, d.receiver, d.payload,
  d.status, d.attempts, d.next_attempt_at AS "nextAttemptAt", d.last_error AS "lastError", d.created_time AS "createdTime",
  d.delivered_time AS "deliveredTime"`;

/** Every column of `tasks`, named as TaskRow (the row the adapter builds the payload from). */
const TASK_COLUMNS = `t.id, t.user_id AS "userId", t.token_id AS "tokenId", t.channel_id AS "channelId", t.code, t.action,
  t.mj_id AS "mjId", t.prompt, t.prompt_en AS "promptEn", t.description, t.state, t.submit_time AS "submitTime",
  t.start_time AS "startTime", t.finish_time AS "finishTime", t.image_url AS "imageUrl", t.video_url AS "videoUrl",
  t.video_urls AS "videoUrls", t.status, t.progress, t.fail_reason AS "failReason", t.quota, t.buttons, t.properties,
  t.updated_time AS "updatedTime"`;

export interface TaskHook {
  taskId: number;
  userId: number;
  tokenId: number;
  url: string;
}

/** Remember where a task's changes go; call in the transaction that inserts the task. */
export async function recordTaskHookPg(r: PgRunner, hook: TaskHook): Promise<void> {
  await runner(r)`
    INSERT INTO task_webhooks (task_id, user_id, token_id, url)
    VALUES (${hook.taskId}::int, ${hook.userId}::int, ${hook.tokenId}::int, ${hook.url}::text)
    ON CONFLICT (task_id) DO UPDATE SET url = excluded.url`;
}

/** A hooked task as it is now, with where its change goes. */
export interface HookedTask {
  hook: TaskHook;
  task: TaskRow;
}

/**
 * Add one delivery per hooked task among `taskIds`, carrying `payloadOf(task)` read as the task
 * is now. Call inside the transaction that wrote the change, after the write: the change holds the
 * task row's lock, so a later change of the same task waits for this transaction and its delivery
 * gets a higher id (the per-task order is id order). Tasks without a hook cost one index probe.
 * Returns how many deliveries were queued.
 */
export async function enqueueTaskChangePg(
  r: PgRunner,
  taskIds: readonly number[],
  now: number,
  payloadOf: PayloadOf,
): Promise<number> {
  if (taskIds.length === 0) return 0;
  const sql = runner(r);
  const ids = [...new Set(taskIds)];
  const rows = await sql<Array<TaskRow & { hookUserId: number; hookTokenId: number; hookUrl: string }>>`
    SELECT ${sql.unsafe(TASK_COLUMNS)}, h.user_id AS "hookUserId", h.token_id AS "hookTokenId", h.url AS "hookUrl"
    FROM task_webhooks h JOIN tasks t ON t.id = h.task_id
    WHERE h.task_id = ANY(${ids}::int[]) ORDER BY t.id`;
  if (rows.length === 0) return 0;
  const hooked: HookedTask[] = rows.map(({ hookUserId, hookTokenId, hookUrl, ...task }) => ({
    hook: { taskId: task.id, userId: hookUserId, tokenId: hookTokenId, url: hookUrl },
    task,
  }));
  return insertDeliveriesPg(
    r,
    hooked.map((h) => ({ ...h.hook, mjId: h.task.mjId, payload: payloadOf(h.task) })),
    now,
  );
}

export interface NewDelivery extends TaskHook {
  mjId: string;
  payload: string;
}

/** Queue deliveries (pending, due at `now`) in one statement, in the order given. */
export async function insertDeliveriesPg(r: PgRunner, items: readonly NewDelivery[], now: number): Promise<number> {
  if (items.length === 0) return 0;
  const sql = runner(r);
  // unnest … WITH ORDINALITY keeps the given order, so ids follow it; one SQL text for any count.
  const rows = await sql`
    INSERT INTO webhook_deliveries (task_id, user_id, token_id, mj_id, url, receiver, payload, status, attempts, next_attempt_at, created_time)
    SELECT d.task_id, d.user_id, d.token_id, d.mj_id, d.url, d.receiver, d.payload, 'pending', 0, ${now}::bigint, ${now}::bigint
    FROM unnest(${items.map((i) => i.taskId)}::int[], ${items.map((i) => i.userId)}::int[], ${items.map((i) => i.tokenId)}::int[],
      ${items.map((i) => i.mjId)}::text[], ${items.map((i) => i.url)}::text[], ${items.map((i) => receiverOf(i.url))}::text[],
      ${items.map((i) => i.payload)}::text[])
      WITH ORDINALITY AS d(task_id, user_id, token_id, mj_id, url, receiver, payload, n)
    ORDER BY d.n
    RETURNING id`;
  return rows.length;
}

/** Where each database's next look starts (the walk moves on look after look). */
const cursors = new WeakMap<PgDB, QueueCursor>();

type PgWalkRow = { walkUser: number; walkReceiver: string } & { [K in keyof DeliveryRow]: DeliveryRow[K] | null };

/**
 * Up to `limit` deliveries due at `now`, oldest first, as src/db/sqlite/outbox-worker.ts DUE_SQL
 * walks the outbox (lib/webhook-receiver.ts): the (user, receiver) queues after the cursor, each
 * found by one seek on webhook_deliveries_queue_idx (at most `QUEUES_PER_USER_PER_LOOK` of one
 * user before skipping to the next), then each queue's due task heads (a task's later change is
 * never sent before an earlier one is delivered or has failed for good) among its first
 * QUEUE_SCAN pending rows, at most `perReceiver`; at most `perUser` rows of one user in all.
 */
export async function selectDueDeliveriesPg(
  db: PgDB,
  now: number,
  limit: number,
  perReceiver = ROWS_PER_QUEUE,
  perUser = ROWS_PER_USER,
): Promise<DeliveryRow[]> {
  const sql = db.$client;
  const from = cursors.get(db) ?? { userId: 0, receiver: '' };
  const walked = await sql<PgWalkRow[]>`
    WITH RECURSIVE walk(user_id, rk, i, j) AS (
      (SELECT n.user_id, n.receiver, 1, 1 FROM (
        (SELECT q.user_id, q.receiver, 0 AS o FROM webhook_deliveries q
         WHERE q.status = 'pending' AND q.user_id = ${from.userId}::int AND q.receiver > ${from.receiver}::text ORDER BY q.receiver LIMIT 1)
        UNION ALL
        (SELECT q.user_id, q.receiver, 1 FROM webhook_deliveries q
         WHERE q.status = 'pending' AND q.user_id > ${from.userId}::int ORDER BY q.user_id, q.receiver LIMIT 1)) n
      ORDER BY n.o LIMIT 1)
      UNION ALL
      SELECT n.user_id, n.receiver, w.i + 1, CASE WHEN n.user_id = w.user_id THEN w.j + 1 ELSE 1 END
      FROM walk w CROSS JOIN LATERAL (
        SELECT m.user_id, m.receiver FROM (
          (SELECT q.user_id, q.receiver, 0 AS o FROM webhook_deliveries q
           WHERE w.j < ${QUEUES_PER_USER_PER_LOOK}::int AND q.status = 'pending' AND q.user_id = w.user_id AND q.receiver > w.rk
           ORDER BY q.receiver LIMIT 1)
          UNION ALL
          (SELECT q.user_id, q.receiver, 1 FROM webhook_deliveries q
           WHERE q.status = 'pending' AND q.user_id > w.user_id ORDER BY q.user_id, q.receiver LIMIT 1)) m
        ORDER BY m.o LIMIT 1) n
      WHERE w.i < ${QUEUES_PER_LOOK}::int
    )
    SELECT w.user_id AS "walkUser", w.rk AS "walkReceiver", ${sql.unsafe(DELIVERY_COLUMNS)}
    FROM walk w LEFT JOIN LATERAL (
      SELECT x.* FROM (
        SELECT * FROM webhook_deliveries y WHERE y.status = 'pending' AND y.user_id = w.user_id AND y.receiver = w.rk
        ORDER BY y.id LIMIT ${QUEUE_SCAN}::int) x
      WHERE x.next_attempt_at <= ${now}::bigint
        AND NOT EXISTS (SELECT 1 FROM webhook_deliveries o WHERE o.task_id = x.task_id AND o.status = 'pending' AND o.id < x.id)
      ORDER BY x.id LIMIT ${perReceiver}::int) d ON true
    ORDER BY w.i, d.id`;
  const { rows, next } = takeWalk(
    walked.map(({ walkUser, walkReceiver, ...row }) => ({
      walkUser,
      walkReceiver,
      row: row.id === null ? null : (row as DeliveryRow),
    })),
    perUser,
    Math.max(0, Math.floor(limit)),
  );
  if (next) cursors.set(db, next);
  else cursors.delete(db);
  return rows;
}

/** Take a due row for one send; false when another worker (or replica) took it first. */
export async function claimDeliveryPg(db: PgDB, row: DeliveryRow, now: number): Promise<boolean> {
  const rows = await db.$client`
    UPDATE webhook_deliveries SET next_attempt_at = ${now + PG_CLAIM_LEASE_MS}::bigint
    WHERE id = ${row.id}::int AND status = 'pending' AND attempts = ${row.attempts}::int AND next_attempt_at = ${row.nextAttemptAt}::bigint
    RETURNING id`;
  return rows.length === 1;
}

/** The signing secrets of the delivery's API key, or why there is none to sign with. */
export async function deliverySecretPg(db: PgDB, tokenId: number): Promise<DeliverySecrets | { missing: string }> {
  const [row] = await db.$client<
    Array<{ secret: string | null; previous: string | null; rotatedAt: string | number | null }>
  >`
    SELECT webhook_secret AS secret, previous_webhook_secret AS previous, webhook_secret_rotated_at AS "rotatedAt"
    FROM tokens WHERE id = ${tokenId}::int`;
  if (!row) return { missing: `API key ${tokenId} no longer exists` };
  if (!row.secret) return { missing: `API key ${tokenId} has no webhook secret` };
  return {
    secret: row.secret,
    previous: row.previous || null,
    rotatedAt: row.rotatedAt === null ? null : Number(row.rotatedAt),
  };
}

export type AttemptOutcome = 'delivered' | 'retry' | 'failed';

/** Record a 2xx; false when the row had moved on (another worker recorded this attempt). */
export async function markDeliveredPg(db: PgDB, row: DeliveryRow, now: number): Promise<boolean> {
  const rows = await db.$client`
    UPDATE webhook_deliveries SET status = 'delivered', attempts = ${row.attempts + 1}::int, delivered_time = ${now}::bigint, last_error = ''
    WHERE id = ${row.id}::int AND attempts = ${row.attempts}::int AND status = 'pending'
    RETURNING id`;
  return rows.length === 1;
}

/** Record a failed attempt: retried after the backoff, or `failed` once the attempts are spent. */
export async function markAttemptFailedPg(
  db: PgDB,
  row: DeliveryRow,
  now: number,
  error: string,
): Promise<AttemptOutcome> {
  const attempts = row.attempts + 1;
  const spent = attempts >= PG_MAX_DELIVERY_ATTEMPTS;
  // A spent row keeps its next_attempt_at, as on SQLite; one SQL text for both outcomes.
  await db.$client`
    UPDATE webhook_deliveries SET attempts = ${attempts}::int, last_error = ${error.slice(0, LAST_ERROR_MAX)}::text,
      status = CASE WHEN ${spent}::boolean THEN 'failed' ELSE status END,
      next_attempt_at = CASE WHEN ${spent}::boolean THEN next_attempt_at ELSE ${now + pgRetryDelayMs(attempts)}::bigint END
    WHERE id = ${row.id}::int AND attempts = ${row.attempts}::int AND status = 'pending'`;
  return spent ? 'failed' : 'retry';
}

/** A delivery that must never be sent (refused URL, key gone): `failed` at once, no attempt counted. */
export async function markRefusedPg(db: PgDB, row: DeliveryRow, reason: string): Promise<void> {
  await db.$client`
    UPDATE webhook_deliveries SET status = 'failed', last_error = ${reason.slice(0, LAST_ERROR_MAX)}::text
    WHERE id = ${row.id}::int AND attempts = ${row.attempts}::int AND status = 'pending'`;
}

/** One delivery as `webhook.list` shows it (never the payload: it may be large). */
export interface PgDeliveryView {
  id: number;
  task_id: number;
  mj_id: string;
  user_id: number;
  url: string;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  last_error: string;
  next_attempt_at: number;
  created_time: number;
  delivered_time: number;
}

export interface DeliveryPage {
  items: PgDeliveryView[];
  total: number;
  page: number;
  page_size: number;
}

/**
 * Deliveries newest first: one user's, or everyone's (`userId` null, admins). `page` and
 * `pageSize` come already bounded by the domain's pageOf (1-based page, at most 100 a page).
 */
export async function listDeliveriesPg(
  db: PgDB,
  userId: number | null,
  page: number,
  pageSize: number,
): Promise<DeliveryPage> {
  const sql = db.$client;
  const offset = (page - 1) * pageSize;
  // Two fixed texts rather than `$1 IS NULL OR …`, so a user's page keeps its index plan.
  const where = userId === null ? sql`` : sql`WHERE user_id = ${userId}::int`;
  const [items, [count]] = await Promise.all([
    sql<PgDeliveryView[]>`
      SELECT id, task_id, mj_id, user_id, url, status, attempts, last_error, next_attempt_at, created_time, delivered_time
      FROM webhook_deliveries ${where} ORDER BY id DESC LIMIT ${pageSize}::int OFFSET ${offset}::int`,
    sql<Array<{ n: number }>>`SELECT count(*)::int AS n FROM webhook_deliveries ${where}`,
  ]);
  return { items, total: count?.n ?? 0, page, page_size: pageSize };
}
