import { count, eq } from 'drizzle-orm';
import { sqliteInThreadListing } from '../../src/backend.ts';
import { tasks, users } from '../../src/db/schema/index.ts';
import { createSqliteTaskStore } from '../../src/db/sqlite/task-store.ts';
import { memoryDb } from '../helpers/db.ts';
import { createTestApiKey, createTestChannel, createTestUser } from '../helpers/factories.ts';
import { type Harness, taskStoreBehaviour } from '../helpers/task-store-behaviour.ts';

/** The TaskStore behaviour cases (tests/helpers/task-store-behaviour.ts) on the SQLite adapter. */
async function sqliteHarness(): Promise<Harness> {
  const db = memoryDb();
  const user = createTestUser(db, { quota: 150 });
  const token = createTestApiKey(db, user.id, { unlimited: true });
  const channelId = createTestChannel(db, 'http://127.0.0.1:1');
  return {
    store: createSqliteTaskStore(db, sqliteInThreadListing(db)),
    userId: user.id,
    tokenId: token.id,
    channelId,
    userQuota: async () => db.select({ q: users.quota }).from(users).where(eq(users.id, user.id)).get()!.q,
    taskCount: async () => db.select({ n: count() }).from(tasks).get()!.n,
  };
}

taskStoreBehaviour('sqlite', sqliteHarness);
