import { expect, test } from 'bun:test';
import { createSqliteTaskStore } from '../../src/db/sqlite/task-store.ts';
import { sqliteInThreadListing } from '../../src/backend.ts';
import type { TaskStore } from '../../src/contract/tasks.ts';
import { tempDb } from '../helpers/db.ts';

/** db/ may not import domain/, so the SQLite adapter is the domain's TaskStore only structurally: checked here. */
test('the SQLite adapter implements TaskStore', () => {
  const { db, cleanup } = tempDb();
  try {
    const store: TaskStore = createSqliteTaskStore(db, sqliteInThreadListing(db));
    expect(Object.keys(store).sort()).toEqual(['admin', 'lease', 'money', 'outbox', 'rateLimit', 'sync', 'tasks']);
  } finally {
    cleanup();
  }
});
