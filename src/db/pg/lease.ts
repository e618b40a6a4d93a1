import type { PgDB } from './client.ts';

/** The contract's LeaseStore, narrowed to this adapter's answers (synchronous on SQLite, promises on PostgreSQL). */
export interface PgLeaseStore {
  tryAcquire(name: string, holder: string, now: number, ttlMs: number): Promise<boolean>;
  release(name: string, holder: string): Promise<void>;
}

export interface PgLeaseOptions {
  /**
   * Whose clock the expiry is written and compared in. `database` (the default): the server's
   * `now()`, and the caller's `now` is ignored. Replicas run on different machines, and a lease
   * compared in each one's own clock would let a replica whose clock runs ahead steal a live lease
   * (or one running behind wait past `POLL_LEASE_MS` + one interval): with one clock for every
   * writer and every comparison, skew between replicas cannot matter. The TTL is still the
   * caller's, so renewal timing stays where the poller keeps it; jobs/leadership.ts counts its
   * own term from its clock read before the call, so a leader never believes it leads past the
   * row's expiry (the statement's `now()` is later than that read). `caller`: the caller's `now`, as
   * the SQLite store does (one machine, one clock); tests use it to pin exact instants.
   */
  clock?: 'database' | 'caller';
}

/**
 * LeaseStore on PostgreSQL, with the SQLite store's semantics (src/db/sqlite/lease.ts): taking and
 * renewing is one upsert whose update is guarded in SQL (`expires_at < now OR holder = me`), so
 * replicas racing for an expired lease cannot both win. Under READ COMMITTED a racing upsert waits
 * for the winner's row lock, then re-evaluates the guard on the winner's row (now unexpired and
 * not its own) and updates nothing: RETURNING yields no row. Release deletes only the holder's row.
 */
export function createPgLeaseStore(db: PgDB, opts: PgLeaseOptions = {}): PgLeaseStore {
  const sql = db.$client;
  const useDbClock = (opts.clock ?? 'database') === 'database';
  return {
    async tryAcquire(name, holder, now, ttlMs) {
      // One fixed SQL text either way (postgres.js prepares it once per connection): a null `now`
      // selects the server's clock, in ms like every time column.
      const callerNow = useDbClock ? null : now;
      const ttl = Math.max(0, Math.floor(ttlMs));
      // The guard's `now` is the new expiry less the TTL: the same instant, without a sub-query.
      const rows = await sql`
        INSERT INTO leases AS l (name, holder, expires_at)
        VALUES (${name}::text, ${holder}::text, coalesce(${callerNow}::bigint, (extract(epoch FROM now()) * 1000)::bigint) + ${ttl}::bigint)
        ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
        WHERE l.expires_at < excluded.expires_at - ${ttl}::bigint OR l.holder = excluded.holder
        RETURNING l.holder`;
      return rows.length === 1;
    },
    async release(name, holder) {
      await sql`DELETE FROM leases WHERE name = ${name}::text AND holder = ${holder}::text`;
    },
  };
}
