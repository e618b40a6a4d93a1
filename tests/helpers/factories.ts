import { eq } from 'drizzle-orm';
import type { NewTaskRow, TaskRow } from '../../src/contract/rows.ts';
import type { DB } from '../../src/db/client.ts';
import { channels, tasks, tokens, users } from '../../src/db/schema/index.ts';
import { taskColumns } from '../../src/db/sqlite/bounded-columns.ts';
import { randomAlphanumeric } from '../../src/lib/ids.ts';

let seq = 0;

export interface TestUser {
  id: number;
  username: string;
  accessToken: string;
  /** Management API headers for this user. */
  headers: Record<string, string>;
}

export function createTestUser(
  db: DB,
  opts: { role?: number; quota?: number; status?: number; username?: string } = {},
): TestUser {
  const accessToken = randomAlphanumeric(40);
  const username = opts.username ?? `user${++seq}_${randomAlphanumeric(4)}`;
  const row = db
    .insert(users)
    .values({
      username,
      displayName: username,
      role: opts.role ?? 1,
      status: opts.status ?? 1,
      accessToken,
      quota: opts.quota ?? 0,
      createdTime: Date.now(),
    })
    .returning()
    .get();
  return {
    id: row.id,
    username,
    accessToken,
    headers: { authorization: `Bearer ${accessToken}`, 'new-api-user': String(row.id) },
  };
}

export function createTestApiKey(
  db: DB,
  userId: number,
  opts: { remainQuota?: number; unlimited?: boolean; status?: number; expiredTime?: number } = {},
): { id: number; key: string; headers: Record<string, string> } {
  const key = randomAlphanumeric(48);
  const row = db
    .insert(tokens)
    .values({
      userId,
      name: 'test',
      key,
      status: opts.status ?? 1,
      remainQuota: opts.remainQuota ?? 0,
      unlimitedQuota: opts.unlimited ?? true,
      expiredTime: opts.expiredTime ?? -1,
      createdTime: Date.now(),
    })
    .returning()
    .get();
  return { id: row.id, key, headers: { authorization: `Bearer sk-${key}` } };
}

export function createTestChannel(
  db: DB,
  baseUrl: string,
  opts: { key?: string; name?: string; priority?: number; weight?: number; status?: number } = {},
): number {
  return db
    .insert(channels)
    .values({
      name: opts.name ?? `ch${++seq}`,
      baseUrl,
      key: opts.key ?? '',
      priority: opts.priority ?? 0,
      weight: opts.weight ?? 1,
      status: opts.status ?? 1,
      createdTime: Date.now(),
    })
    .returning()
    .get().id;
}

/** Insert a task row directly (as an operator's SQL would). */
export function insertTask(db: DB, values: Partial<NewTaskRow> & { userId: number }): TaskRow {
  return db
    .insert(tasks)
    .values({
      mjId: String(1_700_000_000_000_000 + ++seq),
      action: 'IMAGINE',
      prompt: 'a cat',
      submitTime: Date.now(),
      ...values,
    })
    .returning()
    .get();
}

/** A task row as the app reads it (`buttons` expanded from its compact form, as every read does). */
export function getTask(db: DB, id: number): TaskRow | undefined {
  return db.select(taskColumns).from(tasks).where(eq(tasks.id, id)).get();
}

export function getUserQuota(db: DB, userId: number): number {
  return db.select({ q: users.quota }).from(users).where(eq(users.id, userId)).get()?.q ?? -1;
}
