import type { Store } from '../../contract/store.ts';
import type { DB } from '../client.ts';
import { createSqliteManagementStore, type SqliteManagementStore } from './management.ts';

/** The whole SQLite store: the contract's `Store` (checked by `satisfies`). */
export function createSqliteStore(db: DB): SqliteManagementStore & { readonly kind: 'sqlite' } {
  return { kind: 'sqlite', ...createSqliteManagementStore(db) } satisfies Store;
}
