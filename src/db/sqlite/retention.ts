import { LOG_TYPE, signedLogQuota } from '../../contract/constants.ts';
import {
  type ArchivedRow,
  RETENTION_ARCHIVE_KEY,
  RETENTION_LAST_PASS_KEY,
  type RemovedLogs,
  type RemovedRows,
  type RetentionHooks,
  type RetentionState,
} from '../../contract/retention.ts';
import type { DB } from '../client.ts';
import { BUTTONS_SQL } from './button-sets.ts';

/**
 * Retention on SQLite (SPEC §17): small batches, each read, archived (the hooks write and fsync
 * the files, off this thread's critical path), then deleted in one short synchronous transaction
 * with the archive bookkeeping and, for logs, the carry-forward rows. The listing counters and
 * rollups follow by their DELETE triggers. Between batches the event loop is served (hooks.between).
 */

/** Every task column by its SQL name; `buttons` expanded as every read gives it (button-sets.ts). */
export const TASK_ARCHIVE_COLUMNS_SQL = `id, user_id, token_id, channel_id, code, action, mj_id, prompt, prompt_en,
  description, state, submit_time, start_time, finish_time, image_url, video_url, video_urls, status, progress,
  fail_reason, quota, ${BUTTONS_SQL} AS buttons, properties, updated_time`;

/** Finished: as the domain says (progress 100%), and by an ending status. */
export const FINISHED_SQL = `progress = '100%' AND status IN ('SUCCESS', 'FAILURE')`;

/** Ids walked per log read: bounds each statement whatever the table holds (logs have no time index). */
const LOG_ID_WINDOW = 20_000;

/** Thrown inside a delete transaction to roll it back when a row changed after it was archived. */
class BatchMoved extends Error {}

export function createSqliteRetentionStore(db: DB) {
  const c = db.$client;
  const getOption = c.prepare<{ value: string }, [string]>('SELECT value FROM options WHERE key = ?1');
  const putOption = c.prepare<unknown, [string, string]>(
    'INSERT INTO options (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
  );
  const taskPage = c.prepare<ArchivedRow, [number, number, number, number]>(
    `SELECT ${TASK_ARCHIVE_COLUMNS_SQL} FROM tasks
     WHERE submit_time < ?1 AND submit_time >= ?2 AND (submit_time > ?2 OR id > ?3) AND ${FINISHED_SQL}
     ORDER BY submit_time, id LIMIT ?4`,
  );
  const deleteTask = c.prepare<unknown, [number, number]>(
    `DELETE FROM tasks WHERE id = ?1 AND submit_time < ?2 AND ${FINISHED_SQL}`,
  );
  const maxLogId = c.prepare<{ id: number | null }, []>('SELECT max(id) AS id FROM logs');
  const minLogId = c.prepare<{ id: number | null }, []>('SELECT min(id) AS id FROM logs');
  const logPage = c.prepare<ArchivedRow, [number, number, number, number]>(
    `SELECT id, user_id, type, content, quota, model_name, channel_id, token_id, mj_id, task_id, created_time
     FROM logs WHERE id > ?1 AND id <= ?2 AND created_time < ?3 ORDER BY id LIMIT ?4`,
  );
  const deleteLog = c.prepare<unknown, [number, number]>('DELETE FROM logs WHERE id = ?1 AND created_time < ?2');
  const insertCarry = c.prepare<{ id: number }, [number, number, string, number, number]>(
    `INSERT INTO logs (user_id, type, content, quota, created_time) VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id`,
  );
  const addToCarry = c.prepare<unknown, [number, number]>('UPDATE logs SET quota = quota + ?2 WHERE id = ?1');

  /** The batch's rows deleted, the bookkeeping saved, `more` written (carry-forward), all or nothing. */
  const commitBatch = c.transaction(
    (rows: readonly ArchivedRow[], remove: (id: number) => number, archive: string, more?: () => void) => {
      let deleted = 0;
      for (const row of rows) deleted += remove(row.id as number);
      if (deleted !== rows.length) throw new BatchMoved();
      more?.();
      putOption.run(RETENTION_ARCHIVE_KEY, archive);
    },
  );

  /** Archive, then delete in one transaction; a row that changed meanwhile rolls the batch back (false). */
  async function archiveAndDelete(
    table: 'tasks' | 'logs',
    rows: ArchivedRow[],
    remove: (id: number) => number,
    hooks: RetentionHooks,
    more?: () => void,
  ): Promise<boolean> {
    const archive = await hooks.archive(table, rows);
    try {
      commitBatch.immediate(rows, remove, archive, more);
      return true;
    } catch (err) {
      await hooks.discard();
      if (err instanceof BatchMoved) return false;
      throw err;
    }
  }

  return {
    /** 500 rows: a few ms of one synchronous transaction (SPEC §17: requests stay within 2× of idle). */
    batchSize: 500,
    async state(): Promise<RetentionState> {
      const last = getOption.get(RETENTION_LAST_PASS_KEY)?.value;
      return { archive: getOption.get(RETENTION_ARCHIVE_KEY)?.value ?? null, lastPass: last ? Number(last) : null };
    },
    async saveArchive(archive: string): Promise<void> {
      putOption.run(RETENTION_ARCHIVE_KEY, archive);
    },
    async saveLastPass(time: number): Promise<void> {
      putOption.run(RETENTION_LAST_PASS_KEY, String(time));
    },

    async removeExpiredTasks(cutoff: number, batchSize: number, hooks: RetentionHooks): Promise<RemovedRows> {
      const out: RemovedRows = { removed: 0, batches: 0 };
      const remove = (id: number) => deleteTask.run(id, cutoff).changes;
      // Keyset on (submit_time, id) through tasks_submit_time_idx: unfinished rows are passed once.
      let after = { time: Number.MIN_SAFE_INTEGER, id: Number.MIN_SAFE_INTEGER };
      for (;;) {
        const rows = taskPage.all(cutoff, after.time, after.id, batchSize);
        if (rows.length === 0) break;
        if (await archiveAndDelete('tasks', rows, remove, hooks)) {
          out.removed += rows.length;
          out.batches++;
          const last = rows[rows.length - 1] as ArchivedRow;
          after = { time: last.submit_time as number, id: last.id as number };
        }
        if (!(await hooks.between())) break;
      }
      return out;
    },

    async removeExpiredLogs(cutoff: number, batchSize: number, hooks: RetentionHooks): Promise<RemovedLogs> {
      const out: RemovedLogs = { removed: 0, batches: 0, carried: 0 };
      const remove = (id: number) => deleteLog.run(id, cutoff).changes;
      const content = `carry-forward of archived log rows before ${new Date(cutoff).toISOString()}`;
      /** This pass's carry-forward row of each user (created_time = cutoff, so never removed by it). */
      const carry = new Map<number, number>();
      // Rows added during the pass (the carry-forward rows among them) are past the last id.
      const top = maxLogId.get()?.id ?? 0;
      let from = (minLogId.get()?.id ?? 1) - 1;
      while (from < top) {
        const to = Math.min(top, from + LOG_ID_WINDOW);
        const rows = logPage.all(from, to, cutoff, batchSize);
        if (rows.length > 0) {
          const sums = new Map<number, number>();
          for (const r of rows) {
            const user = r.user_id as number;
            sums.set(user, (sums.get(user) ?? 0) + signedLogQuota(r.type as number, r.quota as number));
          }
          let inserted: Array<[number, number]> = [];
          const writeCarry = () => {
            inserted = [];
            for (const [user, sum] of sums) {
              const id = carry.get(user);
              if (id !== undefined) addToCarry.run(id, sum);
              else inserted.push([user, insertCarry.get(user, LOG_TYPE.carryForward, content, sum, cutoff)!.id]);
            }
          };
          if (!(await archiveAndDelete('logs', rows, remove, hooks, writeCarry))) {
            // A row went meanwhile: read the window again.
            if (!(await hooks.between())) break;
            continue;
          }
          for (const [user, id] of inserted) carry.set(user, id);
          out.removed += rows.length;
          out.batches++;
          out.carried += inserted.length;
        }
        // A full page may have more rows in this window: go on from its last id.
        from = rows.length === batchSize ? (rows[rows.length - 1]!.id as number) : to;
        if (!(await hooks.between())) break;
      }
      return out;
    },
  };
}
