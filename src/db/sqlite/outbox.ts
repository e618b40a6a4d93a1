import { inArray } from 'drizzle-orm';
import { DELIVERY_STATUS } from '../../contract/constants.ts';
import type { PayloadOf } from '../../contract/tasks.ts';
import { receiverOf } from '../../lib/webhook-receiver.ts';
import { tasks, taskWebhooks, webhookDeliveries } from '../schema/index.ts';
import type { DbLike } from '../types.ts';
import { taskColumns } from './bounded-columns.ts';

/**
 * The write side of the webhook outbox on bun:sqlite: a task's hook beside it, and one delivery
 * row per change of a hooked task, written in the caller's transaction.
 */

/** Remember where a task's changes go; call in the transaction that inserts the task. */
export function recordTaskHook(
  tx: DbLike,
  hook: { taskId: number; userId: number; tokenId: number; url: string },
): void {
  tx.insert(taskWebhooks)
    .values(hook)
    .onConflictDoUpdate({ target: taskWebhooks.taskId, set: { url: hook.url } })
    .run();
}

/**
 * Add one delivery per hooked task among `taskIds`, its payload rendered from the row as it is
 * now. Call inside the transaction that wrote the change, after the write; tasks without a hook
 * cost one primary-key lookup. Returns how many deliveries were queued.
 */
export function enqueueTaskChange(tx: DbLike, taskIds: readonly number[], now: number, payloadOf: PayloadOf): number {
  if (taskIds.length === 0) return 0;
  const hooks = tx
    .select()
    .from(taskWebhooks)
    .where(inArray(taskWebhooks.taskId, [...new Set(taskIds)]))
    .all();
  if (hooks.length === 0) return 0;
  const rows = tx
    .select(taskColumns)
    .from(tasks)
    .where(
      inArray(
        tasks.id,
        hooks.map((h) => h.taskId),
      ),
    )
    .all();
  const byId = new Map(rows.map((r) => [r.id, r]));
  let queued = 0;
  for (const hook of hooks) {
    const row = byId.get(hook.taskId);
    if (!row) continue;
    tx.insert(webhookDeliveries)
      .values({
        taskId: row.id,
        userId: hook.userId,
        tokenId: hook.tokenId,
        mjId: row.mjId,
        url: hook.url,
        receiver: receiverOf(hook.url),
        payload: payloadOf(row),
        status: DELIVERY_STATUS.pending,
        attempts: 0,
        nextAttemptAt: now,
        createdTime: now,
      })
      .run();
    queued++;
  }
  return queued;
}
