import { expect, test } from 'bun:test';
import type { ManagementStore, Store } from '../../src/contract/index.ts';
import { createSqliteManagementStore } from '../../src/db/sqlite/management.ts';
import { createSqliteStore } from '../../src/db/sqlite/store.ts';
import { memoryDb } from '../helpers/db.ts';
import { managementStoreSuite } from '../helpers/management-store-suite.ts';

test('the SQLite adapter implements the domain store interfaces, one per connection', async () => {
  const db = memoryDb();
  // Type-level: these assignments fail `bun run typecheck` if the adapter drifts from the interface.
  const management: ManagementStore = createSqliteManagementStore(db);
  const store: Store = createSqliteStore(db);
  expect(store.kind).toBe('sqlite');
  expect(createSqliteManagementStore(db)).toBe(management as ReturnType<typeof createSqliteManagementStore>);
  expect(await store.users.createRootIfEmpty('tok-0123456789', 1)).toBe(true);
  expect(await store.users.createRootIfEmpty('tok-other', 2)).toBe(false);
  expect((await management.users.byAccessToken('tok-0123456789'))?.username).toBe('root');
});

test('a logged quota change writes the signed delta the database computed', async () => {
  const store = createSqliteStore(memoryDb());
  await store.users.createRootIfEmpty('tok-0123456789', 1);
  const u = await store.users.create(
    { username: 'ann', displayName: 'Ann', role: 1, status: 1, accessToken: 'a'.repeat(40), createdTime: 5 },
    { quota: 300, who: 'by admin 1 (root)', now: 6 },
  );
  expect(u?.quota).toBe(300);
  expect(
    await store.users.create(
      { username: 'ann', displayName: 'x', role: 1, status: 1, accessToken: 'b'.repeat(40), createdTime: 7 },
      null,
    ),
  ).toBeNull();
  await store.users.update(u!.id, {}, { quota: 100, who: 'by admin 1 (root)', now: 8 });
  const { rows } = await store.logs.list({ userId: u!.id }, 10, 0);
  expect(rows.map((r) => r.quota)).toEqual([-200, 300]);
  expect(rows[0]!.content).toBe('quota set to 100 (-200) by admin 1 (root)');
});

managementStoreSuite('sqlite', async () => createSqliteStore(memoryDb()));
