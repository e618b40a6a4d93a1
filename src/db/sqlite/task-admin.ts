import { and, eq } from 'drizzle-orm';
import { LOG_TYPE } from '../../contract/constants.ts';
import type { TaskAdminStore, TaskLogRow } from '../../contract/task-admin.ts';
import type { PollRow } from '../../contract/tasks.ts';
import type { DB } from '../client.ts';
import { perConnection } from '../prepared.ts';
import { logs } from '../schema/index.ts';
import { failAndRefund } from './money.ts';
import { POLL_COLUMNS_SQL } from './sync.ts';

/**
 * Upstream push, reconciliation and the money timeline on bun:sqlite (SPEC §16): the reads and
 * the one write they need besides the poller's own (src/db/sqlite/sync.ts, reused as is).
 */

/** At most this many tasks share an upstream id on one channel (one in practice). */
const CHANNEL_TASKS_LIMIT = 16;

const CHANNEL_TASKS_SQL = `SELECT ${POLL_COLUMNS_SQL}
  FROM tasks WHERE mj_id = ?1 AND channel_id = ?2 ORDER BY id DESC LIMIT ${CHANNEL_TASKS_LIMIT}`;

const TASK_LOGS_SQL = `SELECT id, type, content, quota, channel_id AS channelId, created_time AS createdTime
  FROM logs WHERE task_id = ?1 ORDER BY id LIMIT 1000`;

function buildStatements(db: DB) {
  const c = db.$client;
  return {
    channelTasks: c.prepare<PollRow, [string, number]>(CHANNEL_TASKS_SQL),
    taskLogs: c.prepare<TaskLogRow, [number]>(TASK_LOGS_SQL),
  };
}
const statements = perConnection(buildStatements);

export function createSqliteTaskAdminStore(db: DB) {
  return {
    channelTasks: async (channelId: number, mjId: string) => statements(db).channelTasks.all(mjId, channelId),
    /**
     * failAndRefund (its compare-and-set: refunded exactly once) with the refund row's content set
     * to `refundNote`, in one synchronous transaction.
     */
    adminFail: async (taskId, expectedQuota, patch, now, modelName, refundNote, hook) =>
      db.transaction((tx) => {
        const { won, refunded } = failAndRefund(tx, taskId, expectedQuota, patch, now, modelName, hook);
        if (won && refunded > 0) {
          tx.update(logs)
            .set({ content: refundNote.slice(0, 500) })
            .where(and(eq(logs.taskId, taskId), eq(logs.type, LOG_TYPE.refund)))
            .run();
        }
        return { won, refunded };
      }),
    taskLogs: async (taskId: number) => statements(db).taskLogs.all(taskId),
  } satisfies TaskAdminStore;
}
