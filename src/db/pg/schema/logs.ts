import { bigint, index, integer, pgTable, text } from 'drizzle-orm/pg-core';

/** Billing and system events; append-only. */
export const logs = pgTable(
  'logs',
  {
    id: integer('id').primaryKey().generatedByDefaultAsIdentity(),
    userId: integer('user_id').notNull().default(0),
    type: integer('type').notNull(),
    content: text('content').notNull().default(''),
    quota: bigint('quota', { mode: 'number' }).notNull().default(0),
    modelName: text('model_name').notNull().default(''),
    channelId: integer('channel_id').notNull().default(0),
    tokenId: integer('token_id').notNull().default(0),
    mjId: text('mj_id').notNull().default(''),
    taskId: integer('task_id').notNull().default(0),
    createdTime: bigint('created_time', { mode: 'number' }).notNull(),
  },
  (t) => [
    index('logs_user_id_id_idx').on(t.userId, t.id),
    index('logs_mj_id_idx').on(t.mjId),
    index('logs_task_id_idx').on(t.taskId),
  ],
);
