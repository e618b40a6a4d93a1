import { eq } from 'drizzle-orm';
import type { NewTaskRow, TaskRow } from '../../src/contract/rows.ts';
import { pgSchema } from '../../src/db/pg/client.ts';
import { channels, tasks, tokens, users } from '../../src/db/schema/index.ts';
import { randomAlphanumeric } from '../../src/lib/ids.ts';
import type { TestUser } from './factories.ts';
import type { TestDb } from './server.ts';

/**
 * The factories of ./factories.ts on either database (a test server's `handle`): the same rows,
 * written by Drizzle with the dialect's own schema, so a suite seeds SQLite and PostgreSQL alike.
 */

let seq = 0;

async function insertReturning<T>(
  t: TestDb,
  sqliteTable: typeof users | typeof tokens | typeof channels | typeof tasks,
  pgTable: object,
  values: object,
): Promise<T> {
  if (t.kind === 'sqlite')
    return t.db
      .insert(sqliteTable)
      .values(values as never)
      .returning()
      .get() as T;
  const rows = await t.db
    .insert(pgTable as typeof pgSchema.users)
    .values(values as never)
    .returning();
  return rows[0] as T;
}

export async function addUser(
  t: TestDb,
  opts: { role?: number; quota?: number; status?: number; username?: string } = {},
): Promise<TestUser> {
  const accessToken = randomAlphanumeric(40);
  const username = opts.username ?? `user${++seq}_${randomAlphanumeric(4)}`;
  const row = await insertReturning<{ id: number }>(t, users, pgSchema.users, {
    username,
    displayName: username,
    role: opts.role ?? 1,
    status: opts.status ?? 1,
    accessToken,
    quota: opts.quota ?? 0,
    createdTime: Date.now(),
  });
  return {
    id: row.id,
    username,
    accessToken,
    headers: { authorization: `Bearer ${accessToken}`, 'new-api-user': String(row.id) },
  };
}

export async function addApiKey(
  t: TestDb,
  userId: number,
  opts: { remainQuota?: number; unlimited?: boolean; status?: number; expiredTime?: number } = {},
): Promise<{ id: number; key: string; headers: Record<string, string> }> {
  const key = randomAlphanumeric(48);
  const row = await insertReturning<{ id: number }>(t, tokens, pgSchema.tokens, {
    userId,
    name: 'test',
    key,
    status: opts.status ?? 1,
    remainQuota: opts.remainQuota ?? 0,
    unlimitedQuota: opts.unlimited ?? true,
    expiredTime: opts.expiredTime ?? -1,
    createdTime: Date.now(),
  });
  return { id: row.id, key, headers: { authorization: `Bearer sk-${key}` } };
}

export async function addChannel(
  t: TestDb,
  baseUrl: string,
  opts: { key?: string; name?: string; priority?: number; weight?: number; status?: number } = {},
): Promise<number> {
  const row = await insertReturning<{ id: number }>(t, channels, pgSchema.channels, {
    name: opts.name ?? `ch${++seq}`,
    baseUrl,
    key: opts.key ?? '',
    priority: opts.priority ?? 0,
    weight: opts.weight ?? 1,
    status: opts.status ?? 1,
    createdTime: Date.now(),
  });
  return row.id;
}

/** Insert a task row directly (as an operator's SQL would). */
export async function addTask(t: TestDb, values: Partial<NewTaskRow> & { userId: number }): Promise<TaskRow> {
  return insertReturning<TaskRow>(t, tasks, pgSchema.tasks, {
    mjId: String(1_800_000_000_000_000 + ++seq),
    action: 'IMAGINE',
    prompt: 'a cat',
    submitTime: Date.now(),
    ...values,
  });
}

export async function quotaOf(t: TestDb, userId: number): Promise<number> {
  if (t.kind === 'sqlite')
    return t.db.select({ q: users.quota }).from(users).where(eq(users.id, userId)).get()?.q ?? -1;
  const rows = await t.db.select({ q: pgSchema.users.quota }).from(pgSchema.users).where(eq(pgSchema.users.id, userId));
  return rows[0]?.q ?? -1;
}

const SQLITE_TABLES = { users, tokens, channels, tasks } as const;
type Table = keyof typeof SQLITE_TABLES;
type RowOf<T extends Table> = (typeof SQLITE_TABLES)[T]['$inferSelect'];

/** One row by id, as Drizzle reads it on either database. */
export async function rowById<T extends Table>(t: TestDb, table: T, id: number): Promise<RowOf<T> | undefined> {
  if (t.kind === 'sqlite') {
    const tbl = SQLITE_TABLES[table] as typeof users;
    return t.db.select().from(tbl).where(eq(tbl.id, id)).get() as RowOf<T> | undefined;
  }
  const tbl = pgSchema[table] as typeof pgSchema.users;
  const rows = await t.db.select().from(tbl).where(eq(tbl.id, id));
  return rows[0] as RowOf<T> | undefined;
}

/** Sets columns of one row by id (as an operator's SQL would). */
export async function updateRow<T extends Table>(
  t: TestDb,
  table: T,
  id: number,
  values: Partial<RowOf<T>>,
): Promise<void> {
  if (t.kind === 'sqlite') {
    const tbl = SQLITE_TABLES[table] as typeof users;
    t.db
      .update(tbl)
      .set(values as never)
      .where(eq(tbl.id, id))
      .run();
    return;
  }
  const tbl = pgSchema[table] as typeof pgSchema.users;
  await t.db
    .update(tbl)
    .set(values as never)
    .where(eq(tbl.id, id));
}

export async function deleteRow(t: TestDb, table: Table, id: number): Promise<void> {
  if (t.kind === 'sqlite') {
    const tbl = SQLITE_TABLES[table] as typeof users;
    t.db.delete(tbl).where(eq(tbl.id, id)).run();
    return;
  }
  const tbl = pgSchema[table] as typeof pgSchema.users;
  await t.db.delete(tbl).where(eq(tbl.id, id));
}
