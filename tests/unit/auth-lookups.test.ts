import { expect, test } from 'bun:test';
import { eq } from 'drizzle-orm';
import { authenticateManagement } from '../../src/auth/management.ts';
import { authenticateRelay } from '../../src/auth/relay.ts';
import { tokens, users } from '../../src/db/schema/index.ts';
import { createSqliteStore } from '../../src/db/sqlite/store.ts';
import { memoryDb } from '../helpers/db.ts';
import { createTestApiKey, createTestUser } from '../helpers/factories.ts';

/** The prepared auth lookups read and write what the ad-hoc queries did, on every connection. */
test('relay auth stamps accessed_time at most once a minute, through the prepared update', async () => {
  for (const db of [memoryDb(), memoryDb()]) {
    const user = createTestUser(db);
    const key = createTestApiKey(db, user.id);
    const accessed = () => db.select({ t: tokens.accessedTime }).from(tokens).where(eq(tokens.id, key.id)).get()!.t;
    db.update(tokens).set({ accessedTime: 0 }).where(eq(tokens.id, key.id)).run();
    const caller = await authenticateRelay(createSqliteStore(db), new Headers(key.headers), 100_000);
    expect(caller.user.id).toBe(user.id);
    expect(accessed()).toBe(100_000);
    await authenticateRelay(createSqliteStore(db), new Headers(key.headers), 159_999);
    expect(accessed()).toBe(100_000);
    await authenticateRelay(createSqliteStore(db), new Headers(key.headers), 160_000);
    expect(accessed()).toBe(160_000);
  }
});

test('management auth finds the user of the current access token on each connection', async () => {
  for (const db of [memoryDb(), memoryDb()]) {
    const user = createTestUser(db);
    const creds = { authorization: user.headers.authorization!, newApiUser: String(user.id) };
    expect((await authenticateManagement(createSqliteStore(db), creds, 1)).id).toBe(user.id);
    await expect(
      authenticateManagement(createSqliteStore(db), { ...creds, authorization: 'Bearer nope' }, 1),
    ).rejects.toThrow('Unauthorized, invalid access token');
  }
});

test('the access-token lookup reads the whole user row, as Drizzle would', async () => {
  const db = memoryDb();
  const user = createTestUser(db);
  const token = user.headers.authorization!.replace(/^Bearer\s+/i, '');
  const viaDrizzle = db.select().from(users).where(eq(users.id, user.id)).get()!;
  const store = createSqliteStore(db);
  expect(await store.users.byAccessToken(token)).toEqual(viaDrizzle);
  expect(await store.users.byAccessToken(`${token}x`)).toBeNull();
});
