import { and, eq, lt, or, sql } from 'drizzle-orm';
import type { DB } from '../client.ts';
import { leases } from '../schema/index.ts';

/** The contract's LeaseStore, narrowed to this adapter's answers (synchronous on SQLite, promises on PostgreSQL). */
export interface SqliteLeaseStore {
  tryAcquire(name: string, holder: string, now: number, ttlMs: number): boolean;
  release(name: string, holder: string): void;
}

/**
 * LeaseStore on SQLite. Taking and renewing is one upsert whose update is guarded in SQL
 * (`expires_at < now OR holder = me`), so two processes racing for an expired lease cannot both
 * win: the loser's conflict update matches no row and RETURNING yields nothing. Statements are
 * prepared once per database handle.
 */
export function createSqliteLeaseStore(db: DB): SqliteLeaseStore {
  const acquire = db
    .insert(leases)
    .values({
      name: sql.placeholder('name'),
      holder: sql.placeholder('holder'),
      expiresAt: sql.placeholder('expiresAt'),
    })
    .onConflictDoUpdate({
      target: leases.name,
      set: { holder: sql`excluded.holder`, expiresAt: sql`excluded.expires_at` },
      setWhere: or(lt(leases.expiresAt, sql.placeholder('now')), eq(leases.holder, sql`excluded.holder`)),
    })
    .returning({ holder: leases.holder })
    .prepare();
  const release = db
    .delete(leases)
    .where(and(eq(leases.name, sql.placeholder('name')), eq(leases.holder, sql.placeholder('holder'))))
    .prepare();
  return {
    tryAcquire(name, holder, now, ttlMs) {
      return acquire.get({ name, holder, expiresAt: now + ttlMs, now }) !== undefined;
    },
    release(name, holder) {
      release.run({ name, holder });
    },
  };
}
