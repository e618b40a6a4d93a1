import { integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';

export const channels = sqliteTable('channels', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  name: text('name').notNull(),
  baseUrl: text('base_url').notNull(),
  key: text('key').notNull().default(''),
  status: integer('status').notNull().default(1),
  priority: integer('priority').notNull().default(0),
  weight: integer('weight').notNull().default(1),
  usedQuota: integer('used_quota').notNull().default(0),
  createdTime: integer('created_time').notNull(),
});
