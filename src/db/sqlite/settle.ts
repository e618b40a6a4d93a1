import { and, eq, ne, sql } from 'drizzle-orm';
import { LOG_TYPE } from '../../contract/constants.ts';
import type { PayloadOf, SettleInput } from '../../contract/tasks.ts';
import type { DB } from '../client.ts';
import { perConnection } from '../prepared.ts';
import { channels, logs, tasks } from '../schema/index.ts';
import { nameConsumeRow } from './money.ts';
import { enqueueTaskChange } from './outbox.ts';

/** The settle update in its four shapes (done or not, with or without an image), each prepared once per connection. */
function buildSettle(db: DB, done: boolean, withImage: boolean) {
  const p = sql.placeholder;
  // A task not done keeps the progress its insert gave it ('0%': nothing else writes progress
  // before the upstream's id is known, except an ending, which this compare-and-set then loses).
  // Setting it anyway would rewrite its entry in tasks_unfinished_idx, whose WHERE names
  // progress: one more page of WAL per submit.
  return db
    .update(tasks)
    .set({
      mjId: sql`${p('mjId')}`,
      code: sql`${p('code')}`,
      description: sql`${p('description')}`,
      properties: sql`${p('properties')}`,
      updatedTime: sql`${p('now')}`,
      status: sql`${p('status')}`,
      ...(done ? { progress: sql`${p('progress')}`, startTime: sql`${p('now')}`, finishTime: sql`${p('now')}` } : {}),
      ...(withImage ? { imageUrl: sql`${p('imageUrl')}` } : {}),
    })
    .where(and(eq(tasks.id, p('taskId')), ne(tasks.progress, '100%')))
    .returning({ id: tasks.id })
    .prepare();
}

/**
 * The settle statements and their transaction, made once per connection. The transaction is
 * bun:sqlite's own (what Drizzle's `db.transaction` wraps): BEGIN, the compare-and-set, naming
 * the consume row and queueing the webhook, COMMIT; a throw rolls it back.
 */
function buildSettleStatements(db: DB) {
  const shapes = new Map<string, ReturnType<typeof buildSettle>>();
  const shape = (done: boolean, withImage: boolean) => {
    const key = `${done}:${withImage}`;
    let stmt = shapes.get(key);
    if (!stmt) shapes.set(key, (stmt = buildSettle(db, done, withImage)));
    return stmt;
  };
  const settleTx = db.$client.transaction((input: SettleInput, hook: PayloadOf | null): boolean => {
    const { params } = input;
    const won = shape(input.done, input.withImage).get(params) !== undefined;
    if (won) nameConsumeRow(db, params.taskId, params.mjId);
    if (won && hook) enqueueTaskChange(db, [params.taskId], params.now, hook);
    return won;
  });
  return { settleTx };
}
const settleStatements = perConnection(buildSettleStatements);

/**
 * Write the upstream's acceptance onto the task row, a compare-and-set on "still unfinished" (a
 * sweep may have failed and refunded it meanwhile), with the consume row named and (`hook`) the
 * webhook queued in the same transaction. True when this call won.
 */
export function settleAccepted(db: DB, input: SettleInput, hook: PayloadOf | null): boolean {
  return settleStatements(db).settleTx(input, hook);
}

/**
 * Re-point an unfinished task from one channel to another, moving its charge's share of
 * channel used_quota and the channel of its consume log. False when the task is no longer
 * unfinished on `from` (a sweep ended it meanwhile): then nothing moves.
 */
export function moveTaskChannel(db: DB, taskId: number, from: number, to: number, now: number): boolean {
  return db.transaction((tx) => {
    // updated_time restarts the orphan window (task-sync planTick): each upstream call of a
    // failover may take a whole UPSTREAM_TIMEOUT_MS, and the submit is still in flight meanwhile.
    const moved = tx
      .update(tasks)
      .set({ channelId: to, updatedTime: now })
      .where(and(eq(tasks.id, taskId), eq(tasks.channelId, from), ne(tasks.progress, '100%')))
      .returning({ quota: tasks.quota, userId: tasks.userId, tokenId: tasks.tokenId })
      .get();
    if (!moved) return false;
    // The money timeline's `move` (SPEC §16): a system row of no quota, so balances are unchanged.
    tx.insert(logs)
      .values({
        userId: moved.userId,
        type: LOG_TYPE.system,
        content: moveNote(from, to),
        quota: 0,
        channelId: to,
        tokenId: moved.tokenId,
        taskId,
        createdTime: now,
      })
      .run();
    const q = moved.quota;
    if (q > 0) {
      tx.update(channels)
        .set({ usedQuota: sql`max(${channels.usedQuota} - ${q}, 0)` })
        .where(eq(channels.id, from))
        .run();
      tx.update(channels)
        .set({ usedQuota: sql`${channels.usedQuota} + ${q}` })
        .where(eq(channels.id, to))
        .run();
    }
    tx.update(logs)
      .set({ channelId: to })
      .where(and(eq(logs.taskId, taskId), eq(logs.type, LOG_TYPE.consume)))
      .run();
    return true;
  });
}

/** The content of a failover's log row: where the task moved from and to. */
export function moveNote(from: number, to: number): string {
  return `moved from channel ${from} to channel ${to}`;
}
