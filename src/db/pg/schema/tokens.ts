import { bigint, boolean, index, integer, pgTable, text } from 'drizzle-orm/pg-core';
import { users } from './users.ts';

export const tokens = pgTable(
  'tokens',
  {
    id: integer('id').primaryKey().generatedByDefaultAsIdentity(),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    name: text('name').notNull().default(''),
    key: text('key').notNull().unique(),
    status: integer('status').notNull().default(1),
    remainQuota: bigint('remain_quota', { mode: 'number' }).notNull().default(0),
    unlimitedQuota: boolean('unlimited_quota').notNull().default(false),
    usedQuota: bigint('used_quota', { mode: 'number' }).notNull().default(0),
    expiredTime: bigint('expired_time', { mode: 'number' }).notNull().default(-1),
    createdTime: bigint('created_time', { mode: 'number' }).notNull(),
    accessedTime: bigint('accessed_time', { mode: 'number' }).notNull().default(0),
    webhookSecret: text('webhook_secret').notNull().default(''),
    previousWebhookSecret: text('previous_webhook_secret'),
    webhookSecretRotatedAt: bigint('webhook_secret_rotated_at', { mode: 'number' }),
    rateLimitPerMinute: integer('rate_limit_per_minute').notNull().default(0),
  },
  (t) => [index('tokens_user_id_idx').on(t.userId, t.id)],
);
