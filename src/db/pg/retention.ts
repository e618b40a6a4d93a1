import type { Sql } from 'postgres';
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
import type { PgDB } from './client.ts';

/**
 * Retention on PostgreSQL (SPEC §17), by row batches for now: each batch is one transaction that
 * deletes with RETURNING, hands the deleted rows to hooks.archive (written and fsynced while the
 * transaction is still open), writes the carry-forward rows and the archive bookkeeping, and only
 * then commits. A crash before the commit rolls the delete back: the rows are then in the database
 * and in the archive, and the next pass takes the uncommitted lines back out of the files first.
 * The listing counters and rollups follow by the statement-level DELETE triggers. Monthly
 * partitions may replace removeExpiredTasks/removeExpiredLogs by archiving and detaching whole
 * months through the same hooks.
 */

const FINISHED_SQL = `progress = '100%' AND status IN ('SUCCESS', 'FAILURE')`;
/** Ids walked per log statement: bounds each one whatever the table holds (logs have no time index). */
const LOG_ID_WINDOW = 200_000;

async function saveArchive(sql: Sql, archive: string): Promise<void> {
  await sql`INSERT INTO options (key, value) VALUES (${RETENTION_ARCHIVE_KEY}::text, ${archive}::text)
    ON CONFLICT (key) DO UPDATE SET value = excluded.value`;
}

/** Runs `work` in a transaction; when it fails after hooks.archive ran, the archived lines are discarded. */
async function batch<T>(sql: Sql, hooks: RetentionHooks, work: (tx: Sql, archived: () => void) => Promise<T>) {
  let archived = false;
  try {
    return await sql.begin((tx) => work(tx as unknown as Sql, () => (archived = true)));
  } catch (err) {
    if (archived) await hooks.discard();
    throw err;
  }
}

export function createPgRetentionStore(db: PgDB) {
  const sql = db.$client;
  return {
    /** Rows per transaction: the delete, the archive's fsync and the commit are one round each per batch. */
    batchSize: 5000,
    async state(): Promise<RetentionState> {
      const rows = await sql<Array<{ key: string; value: string }>>`SELECT key, value FROM options
        WHERE key IN (${RETENTION_ARCHIVE_KEY}::text, ${RETENTION_LAST_PASS_KEY}::text)`;
      const of = (k: string) => rows.find((r) => r.key === k)?.value ?? null;
      const last = of(RETENTION_LAST_PASS_KEY);
      return { archive: of(RETENTION_ARCHIVE_KEY), lastPass: last ? Number(last) : null };
    },
    saveArchive: (archive: string) => saveArchive(sql, archive),
    async saveLastPass(time: number): Promise<void> {
      await sql`INSERT INTO options (key, value) VALUES (${RETENTION_LAST_PASS_KEY}::text, ${String(time)}::text)
        ON CONFLICT (key) DO UPDATE SET value = excluded.value`;
    },

    async removeExpiredTasks(cutoff: number, batchSize: number, hooks: RetentionHooks): Promise<RemovedRows> {
      const out: RemovedRows = { removed: 0, batches: 0 };
      let after = { time: Number.MIN_SAFE_INTEGER, id: -2147483648 };
      for (;;) {
        const rows = await batch(sql, hooks, async (tx, archived) => {
          const deleted = await tx<ArchivedRow[]>`DELETE FROM tasks WHERE id IN (
              SELECT id FROM tasks WHERE submit_time < ${cutoff}::bigint AND ${sql.unsafe(FINISHED_SQL)}
                AND (submit_time, id) > (${after.time}::bigint, ${after.id}::int)
              ORDER BY submit_time, id LIMIT ${batchSize}::int)
            RETURNING *`;
          if (deleted.length === 0) return deleted;
          deleted.sort(
            (a, b) => (a.submit_time as number) - (b.submit_time as number) || (a.id as number) - (b.id as number),
          );
          const [archive] = await hooks.archive('tasks', [deleted]);
          archived();
          await saveArchive(tx, archive!);
          return deleted;
        });
        if (rows.length === 0) break;
        hooks.committed(0);
        out.removed += rows.length;
        out.batches++;
        for (const r of rows) {
          const time = r.submit_time as number;
          const id = r.id as number;
          if (time > after.time || (time === after.time && id > after.id)) after = { time, id };
        }
        if (!(await hooks.between())) break;
      }
      return out;
    },

    async removeExpiredLogs(cutoff: number, batchSize: number, hooks: RetentionHooks): Promise<RemovedLogs> {
      const out: RemovedLogs = { removed: 0, batches: 0, carried: 0 };
      const content = `carry-forward of archived log rows before ${new Date(cutoff).toISOString()}`;
      /** This pass's carry-forward row of each user (created_time = cutoff, so never removed by it). */
      const carry = new Map<number, number>();
      const [bounds] = await sql<Array<{ lo: number | null; hi: number | null }>>`
        SELECT min(id) AS lo, max(id) AS hi FROM logs`;
      const top = bounds?.hi ?? 0;
      let from = (bounds?.lo ?? 1) - 1;
      while (from < top) {
        const to = Math.min(top, from + LOG_ID_WINDOW);
        const inserted: Array<[number, number]> = [];
        const rows = await batch(sql, hooks, async (tx, archived) => {
          const deleted = await tx<ArchivedRow[]>`DELETE FROM logs WHERE id IN (
              SELECT id FROM logs WHERE id > ${from}::int AND id <= ${to}::int AND created_time < ${cutoff}::bigint
              ORDER BY id LIMIT ${batchSize}::int)
            RETURNING id, user_id, type, content, quota, model_name, channel_id, token_id, mj_id, task_id, created_time`;
          if (deleted.length === 0) return deleted;
          deleted.sort((a, b) => (a.id as number) - (b.id as number));
          const [archive] = await hooks.archive('logs', [deleted]);
          archived();
          const sums = new Map<number, number>();
          for (const r of deleted) {
            const user = r.user_id as number;
            sums.set(user, (sums.get(user) ?? 0) + signedLogQuota(r.type as number, r.quota as number));
          }
          const add = [...sums].filter(([user]) => carry.has(user));
          if (add.length > 0) {
            await tx`UPDATE logs SET quota = logs.quota + s.sum FROM
              unnest(${add.map(([u]) => carry.get(u)!)}::int[], ${add.map(([, q]) => q)}::bigint[]) AS s(id, sum)
              WHERE logs.id = s.id`;
          }
          const fresh = [...sums].filter(([user]) => !carry.has(user));
          if (fresh.length > 0) {
            const ids = await tx<Array<{ id: number; user_id: number }>>`
              INSERT INTO logs (user_id, type, content, quota, created_time)
              SELECT u, ${LOG_TYPE.carryForward}::int, ${content}::text, q, ${cutoff}::bigint
              FROM unnest(${fresh.map(([u]) => u)}::int[], ${fresh.map(([, q]) => q)}::bigint[]) AS s(u, q)
              RETURNING id, user_id`;
            for (const r of ids) inserted.push([r.user_id, r.id]);
          }
          await saveArchive(tx, archive!);
          return deleted;
        });
        if (rows.length > 0) {
          hooks.committed(0);
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
