import type { DB } from '../client.ts';
import { createSqliteManagementStore, type SqliteManagementStore } from './management.ts';

/** The whole SQLite store (src/domain/store's `Store`); grows by the task side's members when they join it. */
export function createSqliteStore(db: DB): SqliteManagementStore & { readonly kind: 'sqlite' } {
  return { kind: 'sqlite', ...createSqliteManagementStore(db) };
}
