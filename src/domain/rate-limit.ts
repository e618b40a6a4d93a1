import type { TaskStore } from '../contract/tasks.ts';
import type { Clock } from '../lib/clock.ts';
import type { Metrics } from '../lib/metrics.ts';
import { AppError } from './errors.ts';

/**
 * Relay submits per API key per minute (SPEC §15). A fixed one-minute window counted in the
 * database, so every process and replica on the same database enforces one limit: one atomic
 * upsert per submit that only increments while the count is under the limit, and says by returning
 * no row that the window is full. Keys without a limit never touch the table.
 */

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

/** The limit that applies to a key: its own, else the default; 0 = none. */
export function effectiveLimit(tokenLimit: number, defaultLimit: number): number {
  return tokenLimit > 0 ? tokenLimit : Math.max(0, defaultLimit);
}

/** What the submit flow passes in (a RelayEnv fits). */
export interface SubmitLimitEnv {
  taskStore: Pick<TaskStore, 'rateLimit'>;
  clock: Clock;
  metrics?: Pick<Metrics, 'rateLimited'>;
  /** `RELAY_RATE_LIMIT_PER_MINUTE`; unset or 0 = none. */
  defaultRateLimitPerMinute?: number;
}

/** The submit flow's gate: take a slot for the key or throw RateLimitedError (counted). */
export async function enforceSubmitRateLimit(env: SubmitLimitEnv, tokenId: number, tokenLimit = 0): Promise<void> {
  const limit = effectiveLimit(tokenLimit, env.defaultRateLimitPerMinute ?? 0);
  if (limit <= 0) return;
  const r = await env.taskStore.rateLimit.take(tokenId, limit, env.clock.now());
  if (r.allowed) return;
  env.metrics?.rateLimited();
  throw new RateLimitedError(r.retryAfterSeconds);
}
