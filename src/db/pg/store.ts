import type { Store } from '../../contract/store.ts';
import type { PgDB } from './client.ts';
import { createPgManagementStore, type PgManagementStore } from './management-store.ts';

/** The whole PostgreSQL store: the contract's `Store` (checked by `satisfies`), as src/db/sqlite/store.ts is SQLite's. */
export function createPgStore(db: PgDB): PgManagementStore & { readonly kind: 'postgres' } {
  return { kind: 'postgres', ...createPgManagementStore(db) } satisfies Store;
}
