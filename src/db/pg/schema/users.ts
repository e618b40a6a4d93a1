import { sql } from 'drizzle-orm';
import { bigint, check, integer, pgTable, text } from 'drizzle-orm/pg-core';

/** `users` of the PostgreSQL backend: the same SQL names as the SQLite schema, ms times as bigint. */
export const users = pgTable(
  'users',
  {
    id: integer('id').primaryKey().generatedByDefaultAsIdentity(),
    username: text('username').notNull().unique(),
    displayName: text('display_name').notNull().default(''),
    role: integer('role').notNull().default(1),
    status: integer('status').notNull().default(1),
    accessToken: text('access_token').unique(),
    quota: bigint('quota', { mode: 'number' }).notNull().default(0),
    usedQuota: bigint('used_quota', { mode: 'number' }).notNull().default(0),
    requestCount: integer('request_count').notNull().default(0),
    createdTime: bigint('created_time', { mode: 'number' }).notNull(),
  },
  (t) => [check('users_quota_non_negative', sql`${t.quota} >= 0`)],
);
