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

/**
 * A group of expired finished tasks, by keyset on (submit_time, id). Pinned to the time index: the
 * partial `(status)` index holds exactly the finished statuses, and the planner took it, then
 * sorted every finished task for each group of 10 (50 ms a group at 41,000 tasks, seconds at
 * millions), where the time index walks them in order and stops at the group's end.
 */
export const RETENTION_TASK_PAGE_SQL = `SELECT ${TASK_ARCHIVE_COLUMNS_SQL} FROM tasks INDEXED BY tasks_submit_time_idx
     WHERE submit_time < ?1 AND submit_time >= ?2 AND (submit_time > ?2 OR id > ?3) AND ${FINISHED_SQL}
     ORDER BY submit_time, id LIMIT ?4`;

/** Ids walked per log read: bounds each statement whatever the table holds (logs have no time index). */
const LOG_ID_WINDOW = 5_000;
/**
 * Rows per synchronous statement or transaction. A task's delete runs 15 rollup updates by its
 * triggers (~90 µs of CPU a row), so 10 rows are about 1 ms; after each, the pass rests three times
 * as long as it took (at least 1 ms) while the event loop serves requests, so it holds at most a
 * quarter of the thread and a request waits at most one group (SPEC §17: /healthz within 2× of idle).
 */
const GROUP = 10;

/** Rows per group of a batch: GROUP, and at least 4 groups of a small batch (so tests see several). */
const groupOf = (batchSize: number) => Math.max(1, Math.min(GROUP, Math.ceil(batchSize / 4)));

/** Thrown inside a delete transaction to roll it back when a row changed after it was archived. */
class BatchMoved extends Error {}

/** Rest after `ms` of synchronous work: three times as long, at least 1 ms. */
const rest = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(1, Math.ceil(3 * ms))));

export function createSqliteRetentionStore(db: DB) {
  const c = db.$client;
  const getOption = c.prepare<{ value: string }, [string]>('SELECT value FROM options WHERE key = ?1');
  const putOption = c.prepare<unknown, [string, string]>(
    'INSERT INTO options (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
  );
  const taskPage = c.prepare<ArchivedRow, [number, number, number, number]>(RETENTION_TASK_PAGE_SQL);
  const deleteTask = c.prepare<unknown, [number, number]>(
    `DELETE FROM tasks WHERE id = ?1 AND submit_time < ?2 AND ${FINISHED_SQL}`,
  );
  const logBounds = c.prepare<{ lo: number | null; hi: number | null }, []>(
    'SELECT min(id) AS lo, max(id) AS hi FROM logs',
  );
  const logPage = c.prepare<ArchivedRow, [number, number, number, number]>(
    `SELECT id, user_id, type, content, quota, model_name, channel_id, token_id, mj_id, task_id, created_time
     FROM logs WHERE id > ?1 AND id <= ?2 AND created_time < ?3 ORDER BY id LIMIT ?4`,
  );
  const deleteLog = c.prepare<unknown, [number, number]>('DELETE FROM logs WHERE id = ?1 AND created_time < ?2');
  const insertCarry = c.prepare<{ id: number }, [number, number, string, number, number]>(
    'INSERT INTO logs (user_id, type, content, quota, created_time) VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id',
  );
  const addToCarry = c.prepare<unknown, [number, number]>('UPDATE logs SET quota = quota + ?2 WHERE id = ?1');

  /** A group's rows deleted, the bookkeeping saved, `more` written (carry-forward), all or nothing. */
  const commitGroup = c.transaction(
    (rows: readonly ArchivedRow[], remove: (id: number) => number, archive: string, more?: () => void) => {
      let deleted = 0;
      for (const row of rows) deleted += remove(row.id as number);
      if (deleted !== rows.length) throw new BatchMoved();
      more?.();
      putOption.run(RETENTION_ARCHIVE_KEY, archive);
    },
  );

  /**
   * Archive the groups (one fsync), then delete them one transaction each, resting between. Returns
   * how many groups committed; a group whose rows moved meanwhile ends the run there (its lines and
   * the later groups' are cut back out, and the caller reads them again).
   */
  async function archiveAndDelete(
    table: 'tasks' | 'logs',
    groups: ArchivedRow[][],
    remove: (id: number) => number,
    hooks: RetentionHooks,
    more?: (group: number) => { write: () => void; done: () => void },
  ): Promise<{ committed: number; stop: boolean }> {
    const books = await hooks.archive(table, groups);
    for (let k = 0; k < groups.length; k++) {
      const t0 = performance.now();
      const extra = more?.(k);
      try {
        commitGroup.immediate(groups[k]!, remove, books[k]!, extra?.write);
        extra?.done();
      } catch (err) {
        await hooks.discard();
        if (err instanceof BatchMoved) return { committed: k, stop: false };
        throw err;
      }
      hooks.committed(k);
      const busy = performance.now() - t0;
      if (!(await hooks.between())) {
        await hooks.discard();
        return { committed: k + 1, stop: true };
      }
      await rest(busy);
    }
    return { committed: groups.length, stop: false };
  }

  return {
    /** Rows archived per fsync; deleted GROUP rows per transaction. */
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
      const group = groupOf(batchSize);
      // Keyset on (submit_time, id) through tasks_submit_time_idx: unfinished rows are passed once.
      type Key = { time: number; id: number };
      let after: Key = { time: Number.MIN_SAFE_INTEGER, id: Number.MIN_SAFE_INTEGER };
      const keyOf = (rows: ArchivedRow[]): Key => {
        const last = rows[rows.length - 1]!;
        return { time: last.submit_time as number, id: last.id as number };
      };
      for (;;) {
        const groups: ArchivedRow[][] = [];
        let read = after;
        for (let n = 0; n < batchSize; n += group) {
          const t0 = performance.now();
          const rows = taskPage.all(cutoff, read.time, read.id, Math.min(group, batchSize - n));
          if (rows.length === 0) break;
          groups.push(rows);
          read = keyOf(rows);
          await rest(performance.now() - t0);
        }
        if (groups.length === 0) break;
        const r = await archiveAndDelete('tasks', groups, remove, hooks);
        for (const rows of groups.slice(0, r.committed)) out.removed += rows.length;
        if (r.committed > 0) {
          out.batches += r.committed;
          after = keyOf(groups[r.committed - 1]!);
        }
        if (r.stop || !(await hooks.between())) break;
      }
      return out;
    },

    async removeExpiredLogs(cutoff: number, batchSize: number, hooks: RetentionHooks): Promise<RemovedLogs> {
      const out: RemovedLogs = { removed: 0, batches: 0, carried: 0 };
      const remove = (id: number) => deleteLog.run(id, cutoff).changes;
      const content = `carry-forward of archived log rows before ${new Date(cutoff).toISOString()}`;
      const group = groupOf(batchSize);
      /** This pass's carry-forward row of each user (created_time = cutoff, so never removed by it). */
      const carry = new Map<number, number>();
      // Rows added during the pass (the carry-forward rows among them) are past the last id.
      const bounds = logBounds.get();
      const top = bounds?.hi ?? 0;
      let from = (bounds?.lo ?? 1) - 1;
      /**
       * Carry-forward of one group, written in its delete's transaction; a user's new row is known
       * to the pass only once that transaction committed (`done`).
       */
      const carryOf = (rows: readonly ArchivedRow[]) => {
        const fresh: Array<[number, number]> = [];
        return {
          write() {
            fresh.length = 0;
            const sums = new Map<number, number>();
            for (const r of rows) {
              const user = r.user_id as number;
              sums.set(user, (sums.get(user) ?? 0) + signedLogQuota(r.type as number, r.quota as number));
            }
            for (const [user, sum] of sums) {
              const id = carry.get(user);
              if (id !== undefined) addToCarry.run(id, sum);
              else fresh.push([user, insertCarry.get(user, LOG_TYPE.carryForward, content, sum, cutoff)!.id]);
            }
          },
          done() {
            for (const [user, id] of fresh) carry.set(user, id);
            out.carried += fresh.length;
          },
        };
      };
      while (from < top) {
        // Groups of rows in id order, walking windows of ids; `ends[k]` is where the walk stands after group k.
        const groups: ArchivedRow[][] = [];
        const ends: number[] = [];
        let at = from;
        let rows = 0;
        while (at < top && rows < batchSize) {
          const t0 = performance.now();
          const to = Math.min(top, at + LOG_ID_WINDOW);
          const limit = Math.min(group, batchSize - rows);
          const page = logPage.all(at, to, cutoff, limit);
          // A full page may have more rows in this window: go on from its last id.
          at = page.length === limit ? (page[page.length - 1]!.id as number) : to;
          if (page.length > 0) {
            groups.push(page);
            ends.push(at);
            rows += page.length;
          }
          await rest(performance.now() - t0);
        }
        if (groups.length === 0) {
          from = at;
          if (!(await hooks.between())) break;
          continue;
        }
        const r = await archiveAndDelete('logs', groups, remove, hooks, (k) => carryOf(groups[k]!));
        for (const g of groups.slice(0, r.committed)) out.removed += g.length;
        out.batches += r.committed;
        from = r.committed === groups.length ? at : r.committed > 0 ? ends[r.committed - 1]! : from;
        if (r.stop || !(await hooks.between())) break;
      }
      return out;
    },
  };
}
