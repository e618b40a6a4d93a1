import { sql } from 'drizzle-orm';
import { index, integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/**
 * Where a task's changes are delivered: the submit's `notifyHook`, kept beside the task (not in
 * `tasks`, so listings stay lean) with the API key whose `webhook_secret` signs the deliveries.
 */
export const taskWebhooks = sqliteTable('task_webhooks', {
  taskId: integer('task_id').primaryKey(),
  userId: integer('user_id').notNull(),
  tokenId: integer('token_id').notNull(),
  url: text('url').notNull(),
});

/**
 * The outbox: one row per task change to deliver, written in the same transaction as the change,
 * so a crash or restart loses none. The worker sends a task's rows in id order.
 */
export const webhookDeliveries = sqliteTable(
  'webhook_deliveries',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    taskId: integer('task_id').notNull(),
    userId: integer('user_id').notNull(),
    tokenId: integer('token_id').notNull(),
    mjId: text('mj_id').notNull().default(''),
    url: text('url').notNull(),
    /** `host:port` of the URL (lib/webhook-receiver.ts): the queue this delivery waits in; '' on rows older than it. */
    receiver: text('receiver').notNull().default(''),
    /** The task in the fetch shape at the time of the change (JSON text), sent as the body. */
    payload: text('payload').notNull(),
    status: text('status').notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: integer('next_attempt_at').notNull().default(0),
    lastError: text('last_error').notNull().default(''),
    createdTime: integer('created_time').notNull(),
    deliveredTime: integer('delivered_time').notNull().default(0),
  },
  (t) => [
    index('webhook_deliveries_due_idx').on(t.nextAttemptAt, t.id).where(sql`status = 'pending'`),
    index('webhook_deliveries_task_idx').on(t.taskId, t.id),
    index('webhook_deliveries_user_idx').on(t.userId, t.id),
    // The per-user, per-receiver queues the worker walks (a skip over distinct pairs, then each one's head).
    index('webhook_deliveries_queue_idx').on(t.userId, t.receiver, t.id).where(sql`status = 'pending'`),
  ],
);
