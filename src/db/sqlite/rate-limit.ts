import { lt, sql } from 'drizzle-orm';
import { RATE_LIMIT_WINDOW_MS as WINDOW_MS } from '../../contract/constants.ts';
import type { SlotResult } from '../../contract/tasks.ts';
import type { DB } from '../client.ts';
import { perConnection } from '../prepared.ts';
import { rateLimitWindows } from '../schema/index.ts';

/**
 * Relay submits per key per minute on bun:sqlite: one atomic upsert per submit that only
 * increments while the count is under the limit, and says by returning no row that the window
 * is full (the domain's rate-limit.ts owns the rule and the error).
 */

function prepare(db: DB) {
  return {
    hit: db
      .insert(rateLimitWindows)
      .values({ tokenId: sql.placeholder('tokenId'), windowStart: sql.placeholder('windowStart'), count: 1 })
      .onConflictDoUpdate({
        target: [rateLimitWindows.tokenId, rateLimitWindows.windowStart],
        set: { count: sql`${rateLimitWindows.count} + 1` },
        setWhere: sql`${rateLimitWindows.count} < ${sql.placeholder('limit')}`,
      })
      .returning({ count: rateLimitWindows.count })
      .prepare(),
    sweep: db
      .delete(rateLimitWindows)
      .where(lt(rateLimitWindows.windowStart, sql.placeholder('before')))
      .prepare(),
    /** Window start up to which this process has swept. */
    sweptBefore: 0,
  };
}

/** Prepared once per database, shared by every caller of this module. */
const statementsFor = perConnection(prepare);

/**
 * Take one submit slot of `tokenId` in the window containing `now`, or answer when the window
 * frees with nothing taken. `limit` 0 means unlimited and touches nothing.
 */
export function takeSubmitSlot(db: DB, tokenId: number, limit: number, now: number): SlotResult {
  if (limit <= 0) return { allowed: true };
  const s = statementsFor(db);
  const windowStart = Math.floor(now / WINDOW_MS) * WINDOW_MS;
  // Once per window per process, drop windows older than the previous one (the previous is kept
  // for a replica whose clock runs a little behind). One indexed delete a minute is cheap.
  if (windowStart > s.sweptBefore) {
    s.sweptBefore = windowStart;
    s.sweep.run({ before: windowStart - WINDOW_MS });
  }
  if (s.hit.get({ tokenId, windowStart, limit })) return { allowed: true };
  return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((windowStart + WINDOW_MS - now) / 1000)) };
}
