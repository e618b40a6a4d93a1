import { bigint, integer, pgTable, text } from 'drizzle-orm/pg-core';

export const channels = pgTable('channels', {
  id: integer('id').primaryKey().generatedByDefaultAsIdentity(),
  name: text('name').notNull(),
  baseUrl: text('base_url').notNull(),
  key: text('key').notNull().default(''),
  status: integer('status').notNull().default(1),
  priority: integer('priority').notNull().default(0),
  weight: integer('weight').notNull().default(1),
  usedQuota: bigint('used_quota', { mode: 'number' }).notNull().default(0),
  createdTime: bigint('created_time', { mode: 'number' }).notNull(),
});
