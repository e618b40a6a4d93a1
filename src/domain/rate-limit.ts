import { lt, sql } from 'drizzle-orm';
import type { DB } from '../db/client.ts';
import { rateLimitWindows } from '../db/schema/index.ts';
import type { Clock } from '../lib/clock.ts';
import type { Metrics } from '../lib/metrics.ts';
import { AppError } from './errors.ts';

/**
 * Relay submits per API key per minute (SPEC §15). A fixed one-minute window counted in the
 * database, so every process and replica on the same database enforces one limit: one atomic
 * upsert per submit that only increments while the count is under the limit, and says by returning
 * no row that the window is full. Keys without a limit never touch the table.
 */

export const WINDOW_MS = 60_000;
/** Highest per-key limit `token.create` / `token.update` accept. */
export const MAX_RATE_LIMIT_PER_MINUTE = 1_000_000;

export class RateLimitedError extends AppError {
  constructor(
    /** Seconds until the current window ends and the key may submit again (≥ 1). */
    readonly retryAfterSeconds: number,
  ) {
    super('RATE_LIMITED', 'rate limit exceeded, retry after the window frees', 'rate_limit_exceeded');
    this.name = 'RateLimitedError';
  }
}

function prepare(db: DB) {
  return {
    hit: db.insert(rateLimitWindows)
      .values({ tokenId: sql.placeholder('tokenId'), windowStart: sql.placeholder('windowStart'), count: 1 })
      .onConflictDoUpdate({
        target: [rateLimitWindows.tokenId, rateLimitWindows.windowStart],
        set: { count: sql`${rateLimitWindows.count} + 1` },
        setWhere: sql`${rateLimitWindows.count} < ${sql.placeholder('limit')}`,
      })
      .returning({ count: rateLimitWindows.count })
      .prepare(),
    sweep: db.delete(rateLimitWindows).where(lt(rateLimitWindows.windowStart, sql.placeholder('before'))).prepare(),
    /** Window start up to which this process has swept. */
    sweptBefore: 0,
  };
}

type Statements = ReturnType<typeof prepare>;

/** Prepared once per database, shared by every caller of this module. */
const statements = new WeakMap<DB, Statements>();

function statementsFor(db: DB): Statements {
  let s = statements.get(db);
  if (!s) {
    s = prepare(db);
    statements.set(db, s);
  }
  return s;
}

/** The limit that applies to a key: its own, else the default; 0 = none. */
export function effectiveLimit(tokenLimit: number, defaultLimit: number): number {
  return tokenLimit > 0 ? tokenLimit : Math.max(0, defaultLimit);
}

/**
 * Take one submit slot of `tokenId` in the window containing `now`, or throw RateLimitedError
 * with nothing taken. `limit` 0 means unlimited and touches nothing.
 */
export function takeSubmitSlot(db: DB, tokenId: number, limit: number, now: number): void {
  if (limit <= 0) return;
  const s = statementsFor(db);
  const windowStart = Math.floor(now / WINDOW_MS) * WINDOW_MS;
  // Once per window per process, drop windows older than the previous one (the previous is kept
  // for a replica whose clock runs a little behind). One indexed delete a minute is cheap.
  if (windowStart > s.sweptBefore) {
    s.sweptBefore = windowStart;
    s.sweep.run({ before: windowStart - WINDOW_MS });
  }
  const row = s.hit.get({ tokenId, windowStart, limit });
  if (row) return;
  throw new RateLimitedError(Math.max(1, Math.ceil((windowStart + WINDOW_MS - now) / 1000)));
}

/** What the submit flow passes in (a RelayEnv fits). */
export interface SubmitLimitEnv {
  db: DB;
  clock: Clock;
  metrics?: Pick<Metrics, 'rateLimited'>;
  /** `RELAY_RATE_LIMIT_PER_MINUTE`; unset or 0 = none. */
  defaultRateLimitPerMinute?: number;
}

/** The submit flow's gate: take a slot for the key or throw RateLimitedError (counted). */
export function enforceSubmitRateLimit(env: SubmitLimitEnv, tokenId: number, tokenLimit = 0): void {
  try {
    takeSubmitSlot(env.db, tokenId, effectiveLimit(tokenLimit, env.defaultRateLimitPerMinute ?? 0), env.clock.now());
  } catch (err) {
    if (err instanceof RateLimitedError) env.metrics?.rateLimited();
    throw err;
  }
}
