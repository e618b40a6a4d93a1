import { and, eq, sql } from 'drizzle-orm';
import { DELIVERY_STATUS } from '../../contract/constants.ts';
import type { DeliveryRow } from '../../contract/rows.ts';
import type { DeliverySecrets } from '../../contract/tasks.ts';
import {
  QUEUE_SCAN,
  QUEUES_PER_LOOK,
  QUEUES_PER_USER_PER_LOOK,
  type QueueCursor,
  ROWS_PER_QUEUE,
  ROWS_PER_USER,
  takeWalk,
} from '../../lib/webhook-receiver.ts';
import type { DB } from '../client.ts';
import { perConnection } from '../prepared.ts';
import { tokens, webhookDeliveries } from '../schema/index.ts';

/**
 * The worker's side of the webhook outbox on bun:sqlite (the retry policy is the domain's:
 * webhooks-sign.ts failedAttemptOf). Every state change is a compare-and-set on the row's
 * (id, attempts) and pending status, so two workers (or a worker and its restart) never record
 * the same attempt twice; a row is claimed before it is sent by pushing `next_attempt_at` past
 * the send's timeout, which is also what brings it back should the sender die mid-send.
 */

/** How long a claimed row stays invisible to other workers: the send timeout plus a margin. */
export const CLAIM_LEASE_MS = 15_000;

const LAST_ERROR_MAX = 500;

/**
 * The first pending row of the next queue after (user, receiver): the same user's next receiver
 * while the user has walked fewer than $userQueues queues, else the next user's first. Written as
 * two seeks rather than a row-value comparison, which SQLite would run as a range over user_id
 * alone (a scan through a user's whole backlog at each step).
 */
const nextQueue = (user: string, receiver: string, walked: string) => `coalesce(
    CASE WHEN ${walked} < $userQueues THEN (SELECT n.id FROM webhook_deliveries n
      WHERE n.status = 'pending' AND n.user_id = ${user} AND n.receiver > ${receiver} ORDER BY n.receiver LIMIT 1) END,
    (SELECT n.id FROM webhook_deliveries n WHERE n.status = 'pending' AND n.user_id > ${user} ORDER BY n.user_id, n.receiver LIMIT 1))`;

/**
 * A look at the outbox (lib/webhook-receiver.ts says how it walks): the (user, receiver) queues
 * after the cursor, each by one seek on webhook_deliveries_queue_idx, then each queue's due task
 * heads (a task's later change is never sent before an earlier one is delivered or has failed for
 * good) among its first $scan pending rows, at most $perReceiver. A queue with none due still
 * gives one row (its delivery columns null), so the caller knows how far the walk went.
 */
const DUE_SQL = `
  WITH RECURSIVE walk(user_id, rk, i, j) AS (
    SELECT d.user_id, d.receiver, 1, 1 FROM webhook_deliveries d WHERE d.id = ${nextQueue('$afterUser', '$afterReceiver', '0')}
    UNION ALL
    SELECT d.user_id, d.receiver, w.i + 1, CASE WHEN d.user_id = w.user_id THEN w.j + 1 ELSE 1 END
    FROM walk w JOIN webhook_deliveries d ON d.id = ${nextQueue('w.user_id', 'w.rk', 'w.j')}
    WHERE w.i < $queues
  )
  SELECT w.user_id AS walkUser, w.rk AS walkReceiver, d.id, d.task_id AS taskId, d.user_id AS userId, d.token_id AS tokenId,
    d.mj_id AS mjId, d.url, d.receiver, d.payload, d.status, d.attempts, d.next_attempt_at AS nextAttemptAt,
    d.last_error AS lastError, d.created_time AS createdTime, d.delivered_time AS deliveredTime
  FROM walk w LEFT JOIN webhook_deliveries d ON d.id IN (
    SELECT x.id FROM webhook_deliveries x
    WHERE x.status = 'pending' AND x.user_id = w.user_id AND x.receiver = w.rk AND x.next_attempt_at <= $now
      AND x.id <= coalesce((SELECT y.id FROM webhook_deliveries y WHERE y.status = 'pending' AND y.user_id = w.user_id
        AND y.receiver = w.rk ORDER BY y.id LIMIT 1 OFFSET $scan - 1), 9223372036854775807)
      AND NOT EXISTS (SELECT 1 FROM webhook_deliveries o WHERE o.task_id = x.task_id AND o.status = 'pending' AND o.id < x.id)
    ORDER BY x.id LIMIT $perReceiver)
  ORDER BY w.i, d.id`;

type WalkRow = { walkUser: number; walkReceiver: string } & { [K in keyof DeliveryRow]: DeliveryRow[K] | null };
type DueParams = {
  now: number;
  afterUser: number;
  afterReceiver: string;
  queues: number;
  userQueues: number;
  scan: number;
  perReceiver: number;
};

function build(db: DB) {
  const d = webhookDeliveries;
  const pending = sql`${d.status} = 'pending'`;
  return {
    due: db.$client.prepare<WalkRow, DueParams>(DUE_SQL),
    claim: db
      .update(d)
      .set({ nextAttemptAt: sql`${sql.placeholder('until')}` })
      .where(
        and(
          eq(d.id, sql.placeholder('id')),
          pending,
          eq(d.attempts, sql.placeholder('attempts')),
          eq(d.nextAttemptAt, sql.placeholder('was')),
        ),
      )
      .returning({ id: d.id })
      .prepare(),
    secret: db
      .select({
        secret: tokens.webhookSecret,
        previous: tokens.previousWebhookSecret,
        rotatedAt: tokens.webhookSecretRotatedAt,
      })
      .from(tokens)
      .where(eq(tokens.id, sql.placeholder('id')))
      .prepare(),
  };
}

const statements = perConnection(build);

/** Where each database's next look starts (the walk moves on look after look). */
const cursors = new WeakMap<DB, QueueCursor>();

/**
 * Up to `limit` deliveries due at `now`, oldest first: a few per (user, receiver) queue and per
 * user, walked from where the last look stopped (see DUE_SQL and lib/webhook-receiver.ts).
 */
export function selectDueDeliveries(
  db: DB,
  now: number,
  limit: number,
  perReceiver = ROWS_PER_QUEUE,
  perUser = ROWS_PER_USER,
): DeliveryRow[] {
  const from = cursors.get(db) ?? { userId: 0, receiver: '' };
  const walked = statements(db).due.all({
    now,
    afterUser: from.userId,
    afterReceiver: from.receiver,
    queues: QUEUES_PER_LOOK,
    userQueues: QUEUES_PER_USER_PER_LOOK,
    scan: QUEUE_SCAN,
    perReceiver,
  });
  const { rows, next } = takeWalk(
    walked.map(({ walkUser, walkReceiver, ...row }) => ({
      walkUser,
      walkReceiver,
      row: row.id === null ? null : (row as DeliveryRow),
    })),
    perUser,
    limit,
  );
  if (next) cursors.set(db, next);
  else cursors.delete(db);
  return rows;
}

/** Take a due row for one send; false when another worker took it first. */
export function claimDelivery(db: DB, row: DeliveryRow, now: number): boolean {
  return (
    statements(db).claim.get({
      id: row.id,
      attempts: row.attempts,
      was: row.nextAttemptAt,
      until: now + CLAIM_LEASE_MS,
    }) !== undefined
  );
}

/** The signing secrets of the delivery's API key, or why there is none to sign with. */
export function deliverySecret(db: DB, tokenId: number): DeliverySecrets | { missing: string } {
  const row = statements(db).secret.get({ id: tokenId });
  if (!row) return { missing: `API key ${tokenId} no longer exists` };
  return row.secret
    ? { secret: row.secret, previous: row.previous || null, rotatedAt: row.rotatedAt }
    : { missing: `API key ${tokenId} has no webhook secret` };
}

function guard(row: DeliveryRow) {
  const d = webhookDeliveries;
  return and(eq(d.id, row.id), eq(d.attempts, row.attempts), eq(d.status, DELIVERY_STATUS.pending));
}

/** Record a 2xx. */
export function markDelivered(db: DB, row: DeliveryRow, now: number): boolean {
  return (
    db
      .update(webhookDeliveries)
      .set({ status: DELIVERY_STATUS.delivered, attempts: row.attempts + 1, deliveredTime: now, lastError: '' })
      .where(guard(row))
      .returning({ id: webhookDeliveries.id })
      .get() !== undefined
  );
}

/** Record a failed attempt: retried at `retryAt`, or (null) `failed` for good. */
export function markAttemptFailed(db: DB, row: DeliveryRow, error: string, retryAt: number | null): void {
  db.update(webhookDeliveries)
    .set({
      attempts: row.attempts + 1,
      lastError: error.slice(0, LAST_ERROR_MAX),
      ...(retryAt === null ? { status: DELIVERY_STATUS.failed } : { nextAttemptAt: retryAt }),
    })
    .where(guard(row))
    .run();
}

/** A delivery that must never be sent (refused URL, key gone): `failed` at once, no attempt counted. */
export function markRefused(db: DB, row: DeliveryRow, reason: string): void {
  db.update(webhookDeliveries)
    .set({ status: DELIVERY_STATUS.failed, lastError: reason.slice(0, LAST_ERROR_MAX) })
    .where(guard(row))
    .run();
}

/** The task store's `outbox` member on SQLite. */
export function createSqliteOutboxStore(db: DB) {
  return {
    due: async (now: number, limit: number) => selectDueDeliveries(db, now, limit),
    claim: async (row: DeliveryRow, now: number) => claimDelivery(db, row, now),
    secret: async (tokenId: number) => deliverySecret(db, tokenId),
    markDelivered: async (row: DeliveryRow, now: number) => markDelivered(db, row, now),
    markAttemptFailed: async (row: DeliveryRow, error: string, retryAt: number | null) =>
      markAttemptFailed(db, row, error, retryAt),
    markRefused: async (row: DeliveryRow, reason: string) => markRefused(db, row, reason),
  };
}
