import { and, eq, lt, lte, notExists, sql } from 'drizzle-orm';
import { alias } from 'drizzle-orm/sqlite-core';
import type { DB } from '../client.ts';
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

function build(db: DB) {
  const older = alias(webhookDeliveries, 'older');
  const d = webhookDeliveries;
  const pending = sql`${d.status} = 'pending'`;
  return {
    // Due rows in id order, but only each task's oldest pending one: a later change of a task is
    // never sent before an earlier one is delivered or has failed for good.
    due: db.select().from(d).where(and(
      pending, lte(d.nextAttemptAt, sql.placeholder('now')),
      notExists(db.select({ one: sql`1` }).from(older)
        .where(and(eq(older.taskId, d.taskId), sql`${older.status} = 'pending'`, lt(older.id, d.id)))),
    )).orderBy(d.id).limit(sql.placeholder('limit')).prepare(),
    claim: db.update(d).set({ nextAttemptAt: sql`${sql.placeholder('until')}` })
      .where(and(eq(d.id, sql.placeholder('id')), pending, eq(d.attempts, sql.placeholder('attempts')),
        eq(d.nextAttemptAt, sql.placeholder('was'))))
      .returning({ id: d.id }).prepare(),
    secret: db.select({ secret: tokens.webhookSecret }).from(tokens).where(eq(tokens.id, sql.placeholder('id'))).prepare(),
  };
}

type Statements = ReturnType<typeof build>;
const cache = new WeakMap<DB, Statements>();

function statements(db: DB): Statements {
  let s = cache.get(db);
  if (!s) cache.set(db, (s = build(db)));
  return s;
}

/** Up to `limit` deliveries due at `now` (see the `due` statement for the per-task order). */
export function selectDueDeliveries(db: DB, now: number, limit: number): DeliveryRow[] {
  return statements(db).due.all({ now, limit });
}

/** Take a due row for one send; false when another worker took it first. */
export function claimDelivery(db: DB, row: DeliveryRow, now: number): boolean {
  return statements(db).claim.get({ id: row.id, attempts: row.attempts, was: row.nextAttemptAt, until: now + CLAIM_LEASE_MS }) !== undefined;
}

/** The signing secret of the delivery's API key, or why there is none to sign with. */
export function deliverySecret(db: DB, tokenId: number): { secret: string } | { missing: string } {
  const row = statements(db).secret.get({ id: tokenId });
  if (!row) return { missing: `API key ${tokenId} no longer exists` };
  return row.secret ? { secret: row.secret } : { missing: `API key ${tokenId} has no webhook secret` };
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
