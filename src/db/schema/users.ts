import { sql } from 'drizzle-orm';
import { check, integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';

export const users = sqliteTable(
  'users',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    username: text('username').notNull().unique(),
    displayName: text('display_name').notNull().default(''),
    role: integer('role').notNull().default(1),
    status: integer('status').notNull().default(1),
    accessToken: text('access_token').unique(),
    quota: integer('quota').notNull().default(0),
    usedQuota: integer('used_quota').notNull().default(0),
    requestCount: integer('request_count').notNull().default(0),
    createdTime: integer('created_time').notNull(),
  },
  (t) => [check('users_quota_non_negative', sql`${t.quota} >= 0`)],
);
