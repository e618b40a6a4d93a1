import { expect, test } from 'bun:test';
import { sqliteInThreadListing } from '../../src/backend.ts';
import type { TaskStore } from '../../src/contract/tasks.ts';
import { createSqliteTaskStore } from '../../src/db/sqlite/task-store.ts';
import { tempDb } from '../helpers/db.ts';

/** The SQLite adapter is the contract's TaskStore (its factory `satisfies` it; its keys are checked here). */
test('the SQLite adapter implements TaskStore', () => {
  const { db, cleanup } = tempDb();
  try {
    const store: TaskStore = createSqliteTaskStore(db, sqliteInThreadListing(db));
    expect(Object.keys(store).sort()).toEqual([
      'admin',
      'lease',
      'money',
      'outbox',
      'rateLimit',
      'retention',
      'sync',
      'tasks',
    ]);
  } finally {
    cleanup();
  }
});
