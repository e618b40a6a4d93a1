import { sql } from 'drizzle-orm';
import { bigint, index, integer, pgTable, text } from 'drizzle-orm/pg-core';

/** Where a task's changes are delivered (the submit's notifyHook) and with which key's secret. */
export const taskWebhooks = pgTable('task_webhooks', {
  taskId: integer('task_id').primaryKey(),
  userId: integer('user_id').notNull(),
  tokenId: integer('token_id').notNull(),
  url: text('url').notNull(),
});

/** The webhook outbox: one row per task change to deliver, written with the change. */
export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    id: integer('id').primaryKey().generatedByDefaultAsIdentity(),
    taskId: integer('task_id').notNull(),
    userId: integer('user_id').notNull(),
    tokenId: integer('token_id').notNull(),
    mjId: text('mj_id').notNull().default(''),
    url: text('url').notNull(),
    receiver: text('receiver').notNull().default(''),
    payload: text('payload').notNull(),
    status: text('status').notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: bigint('next_attempt_at', { mode: 'number' }).notNull().default(0),
    lastError: text('last_error').notNull().default(''),
    createdTime: bigint('created_time', { mode: 'number' }).notNull(),
    deliveredTime: bigint('delivered_time', { mode: 'number' }).notNull().default(0),
  },
  (t) => [
    index('webhook_deliveries_due_idx').on(t.nextAttemptAt, t.id).where(sql`status = 'pending'`),
    index('webhook_deliveries_task_idx').on(t.taskId, t.id),
    index('webhook_deliveries_user_idx').on(t.userId, t.id),
    // The per-user, per-receiver queues the worker walks (a skip over distinct pairs, then each one's head).
    index('webhook_deliveries_queue_idx').on(t.userId, t.receiver, t.id).where(sql`status = 'pending'`),
  ],
);
