/**
 * Named leases in the shared database: how processes (SQLite file) or replicas (PostgreSQL)
 * agree on which one of them does a singleton job such as the poller. Each backend implements
 * this with one atomic statement per call; the domain never asks which backend it runs on.
 */
export interface LeaseStore {
  /**
   * Take `name` for `holder` until `now + ttlMs` if it is free, expired (`expires_at < now`) or
   * already held by `holder` (a renewal). True when `holder` holds it afterwards.
   */
  tryAcquire(name: string, holder: string, now: number, ttlMs: number): boolean | Promise<boolean>;
  /** Give `name` up at once, but only if `holder` still holds it. */
  release(name: string, holder: string): void | Promise<void>;
}
