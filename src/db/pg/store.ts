import type { PgDB } from './client.ts';
import { createPgManagementStore, type PgManagementStore } from './management-store.ts';

/**
 * The whole PostgreSQL store (src/domain/store's `Store`), as src/db/sqlite/store.ts is SQLite's;
 * grows by the task side's members (src/db/pg/task-store.ts) when they join it.
 */
export function createPgStore(db: PgDB): PgManagementStore & { readonly kind: 'postgres' } {
  return { kind: 'postgres', ...createPgManagementStore(db) };
}
