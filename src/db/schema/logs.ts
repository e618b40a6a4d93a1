import { index, integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/** Billing and system events; append-only. */
export const logs = sqliteTable(
  'logs',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    userId: integer('user_id').notNull().default(0),
    type: integer('type').notNull(),
    content: text('content').notNull().default(''),
    quota: integer('quota').notNull().default(0),
    modelName: text('model_name').notNull().default(''),
    channelId: integer('channel_id').notNull().default(0),
    tokenId: integer('token_id').notNull().default(0),
    mjId: text('mj_id').notNull().default(''),
    /** The local task id, so rows of a submit that never got an mj_id still name their task; 0 for none. */
    taskId: integer('task_id').notNull().default(0),
    createdTime: integer('created_time').notNull(),
  },
  (t) => [
    index('logs_user_id_id_idx').on(t.userId, t.id),
    index('logs_mj_id_idx').on(t.mjId),
    index('logs_task_id_idx').on(t.taskId),
  ],
);
