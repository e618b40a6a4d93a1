import { index, integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';
import { users } from './users.ts';

export const tokens = sqliteTable(
  'tokens',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    name: text('name').notNull().default(''),
    key: text('key').notNull().unique(),
    status: integer('status').notNull().default(1),
    remainQuota: integer('remain_quota').notNull().default(0),
    unlimitedQuota: integer('unlimited_quota', { mode: 'boolean' }).notNull().default(false),
    usedQuota: integer('used_quota').notNull().default(0),
    expiredTime: integer('expired_time').notNull().default(-1),
    createdTime: integer('created_time').notNull(),
    accessedTime: integer('accessed_time').notNull().default(0),
    /** Signs this key's webhook deliveries (`whsec_` + 32 alphanumerics); rotated by token.update. */
    webhookSecret: text('webhook_secret').notNull().default(''),
    /** The secret before the last rotation: deliveries are signed with it too for 24 h after (SPEC §15). */
    previousWebhookSecret: text('previous_webhook_secret'),
    /** When the secret was last rotated (ms); null when it never was. */
    webhookSecretRotatedAt: integer('webhook_secret_rotated_at'),
    /** Relay submits allowed per minute; 0 = the RELAY_RATE_LIMIT_PER_MINUTE default. */
    rateLimitPerMinute: integer('rate_limit_per_minute').notNull().default(0),
  },
  (t) => [index('tokens_user_id_idx').on(t.userId, t.id)],
);
