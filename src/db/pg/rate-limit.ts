import { RATE_LIMIT_WINDOW_MS as PG_WINDOW_MS } from '../../contract/constants.ts';
import type { SlotResult } from '../../contract/tasks.ts';
import type { PgDB } from './client.ts';

/**
 * Relay submits per API key per minute on PostgreSQL, with the semantics of
 * src/db/sqlite/rate-limit.ts takeSubmitSlot: a fixed one-minute window counted in the shared table,
 * one atomic upsert per submit that only increments while the count is under the limit, and says
 * by returning no row that the window is full. Concurrent upserts on one (key, window) serialize
 * on its row lock and each re-reads the count it guards on, so the limit holds across replicas.
 * The window comes from the caller's clock like on SQLite; the previous window is kept by the
 * sweep for a replica whose clock runs a little behind. Plain values in and out (db/ may not
 * import domain/): the adapter turns `limited` into its RateLimitedError.
 */

/** Start of the window containing `now`. */
export function windowStartOf(now: number): number {
  return Math.floor(now / PG_WINDOW_MS) * PG_WINDOW_MS;
}

/** Seconds until the window containing `now` ends (≥ 1): the SQLite store's Retry-After. */
export function retryAfterSecondsAt(now: number): number {
  return Math.max(1, Math.ceil((windowStartOf(now) + PG_WINDOW_MS - now) / 1000));
}

/** Window start up to which each instance has swept (per pool, like the SQLite store per handle). */
const sweptBefore = new WeakMap<PgDB, number>();

/** Drop every window that starts before `before`; returns how many rows went. */
export async function sweepRateLimitWindowsPg(db: PgDB, before: number): Promise<number> {
  const rows = await db.$client`DELETE FROM rate_limit_windows WHERE window_start < ${before}::bigint RETURNING 1`;
  return rows.length;
}

/**
 * Take one submit slot of `tokenId` in the window containing `now`, or say how long until the
 * window frees, with nothing taken. `limit` 0 (or less) means unlimited and touches nothing.
 */
export async function takeSubmitSlotPg(db: PgDB, tokenId: number, limit: number, now: number): Promise<SlotResult> {
  if (limit <= 0) return { allowed: true };
  const windowStart = windowStartOf(now);
  // Once per window per instance, drop windows older than the previous one: one indexed delete
  // a minute (awaited, so a failure is this call's error rather than an unhandled rejection).
  if (windowStart > (sweptBefore.get(db) ?? 0)) {
    sweptBefore.set(db, windowStart);
    await sweepRateLimitWindowsPg(db, windowStart - PG_WINDOW_MS);
  }
  const rows = await db.$client`
    INSERT INTO rate_limit_windows AS w (token_id, window_start, count)
    VALUES (${tokenId}::int, ${windowStart}::bigint, 1)
    ON CONFLICT (token_id, window_start) DO UPDATE SET count = w.count + 1
    WHERE w.count < ${limit}::int
    RETURNING w.count`;
  if (rows.length === 1) return { allowed: true };
  return { allowed: false, retryAfterSeconds: retryAfterSecondsAt(now) };
}
