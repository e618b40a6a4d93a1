import { and, eq, sql } from 'drizzle-orm';
import type { DB } from '../client.ts';
import { RECEIVER_IN_FLIGHT, USER_IN_FLIGHT } from '../../lib/webhook-receiver.ts';
import { DELIVERY_STATUS, tokens, webhookDeliveries } from '../schema/index.ts';

/**
 * The worker's side of the webhook outbox on bun:sqlite (the retry policy is the domain's:
 * webhooks-sign.ts failedAttemptOf). Every state change is a compare-and-set on the row's
 * (id, attempts) and pending status, so two workers (or a worker and its restart) never record
 * the same attempt twice; a row is claimed before it is sent by pushing `next_attempt_at` past
 * the send's timeout, which is also what brings it back should the sender die mid-send.
 */

export type DeliveryRow = typeof webhookDeliveries.$inferSelect;

/** How long a claimed row stays invisible to other workers: the send timeout plus a margin. */
export const CLAIM_LEASE_MS = 15_000;

const LAST_ERROR_MAX = 500;

/** The signing secrets of a key: the current one, and the one before the last rotation with when that was. */
export interface DeliverySecrets {
  secret: string;
  previous: string | null;
  rotatedAt: number | null;
}

/**
 * Each task's oldest pending row, when due (a later change of a task is never sent before an
 * earlier one is delivered or has failed for good); of those, at most `$perReceiver` per receiver
 * and then `$perUser` per user, oldest first. One receiver's (or user's) backlog of thousands thus
 * takes a few places of a batch, never all of it, and every other receiver's head is in it.
 * Rows written before `receiver` existed ('') are keyed by their URL.
 */
const DUE_SQL = `
  WITH heads AS (
    SELECT d.id, d.user_id, CASE WHEN d.receiver = '' THEN d.url ELSE d.receiver END AS rk
    FROM webhook_deliveries d
    WHERE d.status = 'pending' AND d.next_attempt_at <= $now
      AND NOT EXISTS (SELECT 1 FROM webhook_deliveries o WHERE o.task_id = d.task_id AND o.status = 'pending' AND o.id < d.id)
  ), by_receiver AS (
    SELECT id, user_id, row_number() OVER (PARTITION BY rk ORDER BY id) AS n FROM heads
  ), by_user AS (
    SELECT id, row_number() OVER (PARTITION BY user_id ORDER BY id) AS n FROM by_receiver WHERE n <= $perReceiver
  )
  SELECT d.id, d.task_id AS taskId, d.user_id AS userId, d.token_id AS tokenId, d.mj_id AS mjId, d.url, d.receiver, d.payload,
    d.status, d.attempts, d.next_attempt_at AS nextAttemptAt, d.last_error AS lastError, d.created_time AS createdTime,
    d.delivered_time AS deliveredTime
  FROM by_user u JOIN webhook_deliveries d ON d.id = u.id
  WHERE u.n <= $perUser ORDER BY d.id LIMIT $limit`;

function build(db: DB) {
  const d = webhookDeliveries;
  const pending = sql`${d.status} = 'pending'`;
  return {
    due: db.$client.prepare<DeliveryRow, { now: number; perReceiver: number; perUser: number; limit: number }>(DUE_SQL),
    claim: db.update(d).set({ nextAttemptAt: sql`${sql.placeholder('until')}` })
      .where(and(eq(d.id, sql.placeholder('id')), pending, eq(d.attempts, sql.placeholder('attempts')),
        eq(d.nextAttemptAt, sql.placeholder('was'))))
      .returning({ id: d.id }).prepare(),
    secret: db.select({ secret: tokens.webhookSecret, previous: tokens.previousWebhookSecret, rotatedAt: tokens.webhookSecretRotatedAt })
      .from(tokens).where(eq(tokens.id, sql.placeholder('id'))).prepare(),
  };
}

type Statements = ReturnType<typeof build>;
const cache = new WeakMap<DB, Statements>();

function statements(db: DB): Statements {
  let s = cache.get(db);
  if (!s) cache.set(db, (s = build(db)));
  return s;
}

/** Up to `limit` deliveries due at `now` (see DUE_SQL for the per-task order and the per-receiver share). */
export function selectDueDeliveries(db: DB, now: number, limit: number, perReceiver = RECEIVER_IN_FLIGHT, perUser = USER_IN_FLIGHT): DeliveryRow[] {
  return statements(db).due.all({ now, perReceiver, perUser, limit });
}

/** Take a due row for one send; false when another worker took it first. */
export function claimDelivery(db: DB, row: DeliveryRow, now: number): boolean {
  return statements(db).claim.get({ id: row.id, attempts: row.attempts, was: row.nextAttemptAt, until: now + CLAIM_LEASE_MS }) !== undefined;
}

/** The signing secrets of the delivery's API key, or why there is none to sign with. */
export function deliverySecret(db: DB, tokenId: number): DeliverySecrets | { missing: string } {
  const row = statements(db).secret.get({ id: tokenId });
  if (!row) return { missing: `API key ${tokenId} no longer exists` };
  return row.secret ? { secret: row.secret, previous: row.previous || null, rotatedAt: row.rotatedAt } : { missing: `API key ${tokenId} has no webhook secret` };
}

function guard(row: DeliveryRow) {
  const d = webhookDeliveries;
  return and(eq(d.id, row.id), eq(d.attempts, row.attempts), eq(d.status, DELIVERY_STATUS.pending));
}

/** Record a 2xx. */
export function markDelivered(db: DB, row: DeliveryRow, now: number): boolean {
  return db.update(webhookDeliveries).set({ status: DELIVERY_STATUS.delivered, attempts: row.attempts + 1, deliveredTime: now, lastError: '' })
    .where(guard(row)).returning({ id: webhookDeliveries.id }).get() !== undefined;
}

/** Record a failed attempt: retried at `retryAt`, or (null) `failed` for good. */
export function markAttemptFailed(db: DB, row: DeliveryRow, error: string, retryAt: number | null): void {
  db.update(webhookDeliveries).set({
    attempts: row.attempts + 1, lastError: error.slice(0, LAST_ERROR_MAX),
    ...(retryAt === null ? { status: DELIVERY_STATUS.failed } : { nextAttemptAt: retryAt }),
  }).where(guard(row)).run();
}

/** A delivery that must never be sent (refused URL, key gone): `failed` at once, no attempt counted. */
export function markRefused(db: DB, row: DeliveryRow, reason: string): void {
  db.update(webhookDeliveries).set({ status: DELIVERY_STATUS.failed, lastError: reason.slice(0, LAST_ERROR_MAX) }).where(guard(row)).run();
}

/** The task store's `outbox` member on SQLite. */
export function createSqliteOutboxStore(db: DB) {
  return {
    due: async (now: number, limit: number) => selectDueDeliveries(db, now, limit),
    claim: async (row: DeliveryRow, now: number) => claimDelivery(db, row, now),
    secret: async (tokenId: number) => deliverySecret(db, tokenId),
    markDelivered: async (row: DeliveryRow, now: number) => markDelivered(db, row, now),
    markAttemptFailed: async (row: DeliveryRow, error: string, retryAt: number | null) => markAttemptFailed(db, row, error, retryAt),
    markRefused: async (row: DeliveryRow, reason: string) => markRefused(db, row, reason),
  };
}
