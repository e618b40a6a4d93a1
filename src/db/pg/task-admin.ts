import { LOG_TYPE } from '../../contract/constants.ts';
import type { TaskLogRow } from '../../contract/task-admin.ts';
import type { PayloadOf, PollRow, RefundResult } from '../../contract/tasks.ts';
import type { PgDB } from './client.ts';
import { failAndRefundHookedPg } from './money.ts';
import { insertDeliveriesPg } from './outbox.ts';
import { deliveryOf, pgFailurePatch } from './task-money.ts';
import { POLL_COLUMNS_PG } from './task-sync.ts';

/**
 * Upstream push, reconciliation and the money timeline on PostgreSQL (SPEC §16), with the
 * semantics of src/db/sqlite/task-admin.ts; the poller's own reads and writes are reused as is.
 */

const CHANNEL_TASKS_LIMIT = 16;

/** The tasks of one channel with this upstream id, finished or not, newest first (one mj_id index search). */
export async function channelTasksPg(db: PgDB, channelId: number, mjId: string): Promise<PollRow[]> {
  return [
    ...(await db.$client<PollRow[]>`SELECT ${db.$client.unsafe(POLL_COLUMNS_PG)}
    FROM tasks WHERE mj_id = ${mjId}::text AND channel_id = ${channelId}::int ORDER BY id DESC LIMIT ${CHANNEL_TASKS_LIMIT}::int`),
  ];
}

/** The log rows of one task, oldest first. */
export async function taskLogsPg(db: PgDB, taskId: number): Promise<TaskLogRow[]> {
  return [
    ...(await db.$client<
      TaskLogRow[]
    >`SELECT id, type, content, quota, channel_id AS "channelId", created_time AS "createdTime"
    FROM logs WHERE task_id = ${taskId}::int ORDER BY id LIMIT 1000`),
  ];
}

/**
 * failAndRefund's compare-and-set (refunded exactly once), the refund row's content set to
 * `refundNote`, and the winner's webhook queued, in one transaction.
 */
export async function adminFailPg(
  db: PgDB,
  taskId: number,
  expectedQuota: number,
  patch: { failReason: string; [field: string]: unknown },
  now: number,
  modelName: string,
  refundNote: string,
  hook: PayloadOf | undefined,
  notify: boolean,
): Promise<RefundResult> {
  const p = pgFailurePatch(patch);
  return db.$client.begin(async (sql) => {
    const { hooked, won, refunded } = await failAndRefundHookedPg(
      sql,
      taskId,
      expectedQuota,
      p,
      now,
      modelName,
      notify,
    );
    const r = { won, refunded };
    if (hook && hooked) await insertDeliveriesPg(sql, [deliveryOf(hooked, hook)], now);
    if (r.won && r.refunded > 0) {
      await sql`UPDATE logs SET content = left(${refundNote}::text, 500)
        WHERE task_id = ${taskId}::int AND type = ${LOG_TYPE.refund}::int`;
    }
    return r;
  });
}

export function createPgTaskAdminStore(db: PgDB, notify: boolean) {
  return {
    channelTasks: (channelId: number, mjId: string) => channelTasksPg(db, channelId, mjId),
    adminFail: (
      taskId: number,
      expectedQuota: number,
      patch: { failReason: string; [field: string]: unknown },
      now: number,
      modelName: string,
      refundNote: string,
      hook?: PayloadOf,
    ) => adminFailPg(db, taskId, expectedQuota, patch, now, modelName, refundNote, hook, notify),
    taskLogs: (taskId: number) => taskLogsPg(db, taskId),
  };
}
