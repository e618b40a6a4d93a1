import type { TransactionSql } from 'postgres';
import type { PayloadOf, PollRow, RefundResult, SyncOp, SyncOpResult } from '../../contract/tasks.ts';
import type { PgDB } from './client.ts';
import { failAndRefundPg } from './money.ts';
import { notifyTaskChanges } from './notify.ts';
import { enqueueTaskChangePg } from './outbox.ts';
import { pgFailurePatch } from './task-money.ts';

/**
 * The poller's batch on PostgreSQL (src/db/sqlite/sync.ts applySyncOps): planned updates and
 * endings applied in ONE transaction, never onto a row another writer already finished, each
 * ending through failAndRefundPg's compare-and-set (a refund happens exactly once whatever runs
 * twice), then the webhook deliveries of every row written.
 */

/**
 * The channel ids that have unfinished tasks, stepping from one to the next through the partial
 * index `tasks_unfinished_idx` (channel_id, id): one index search per channel, never a scan.
 */
export async function unfinishedChannelsPg(db: PgDB): Promise<number[]> {
  const rows = await db.$client<Array<{ id: number }>>`WITH RECURSIVE ch(id) AS (
      SELECT (SELECT channel_id FROM tasks WHERE progress <> '100%' ORDER BY channel_id LIMIT 1)
      UNION ALL
      SELECT (SELECT channel_id FROM tasks WHERE progress <> '100%' AND channel_id > ch.id ORDER BY channel_id LIMIT 1)
      FROM ch WHERE ch.id IS NOT NULL
    ) SELECT id FROM ch WHERE id IS NOT NULL`;
  return rows.map((r) => r.id);
}

/** The columns of a PollRow, for every read the sync applies to. */
export const POLL_COLUMNS_PG = `id, user_id AS "userId", channel_id AS "channelId", action, mj_id AS "mjId",
      submit_time AS "submitTime", updated_time AS "updatedTime", quota, progress, status, prompt_en AS "promptEn", state,
      start_time AS "startTime", finish_time AS "finishTime", image_url AS "imageUrl", video_url AS "videoUrl",
      video_urls AS "videoUrls", fail_reason AS "failReason", buttons, properties`;

/** One keyset page of a channel's unfinished tasks (id above `afterId`, by id): one range of the partial index. */
export async function unfinishedPagePg(
  db: PgDB,
  channelId: number,
  afterId: number,
  limit: number,
): Promise<PollRow[]> {
  return [
    ...(await db.$client<PollRow[]>`SELECT ${db.$client.unsafe(POLL_COLUMNS_PG)}
    FROM tasks WHERE progress <> '100%' AND channel_id = ${channelId}::int AND id > ${afterId}::int
    ORDER BY id LIMIT ${limit}::int`),
  ];
}

/**
 * SQLSTATEs about one row's values, as opposed to the server being busy, in conflict or away:
 * class 22 (data exception), 23 (integrity constraint), P0 (a PL/pgSQL RAISE), 54000 (a value
 * too large for an index). Only these are worth isolating row by row.
 */
export function isRowErrorPg(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^(22|23|P0)[0-9A-Z]{3}$|^54000$/.test(code);
}

/**
 * Apply `ops` in one transaction; results in op order. Before any write the batch locks its task
 * rows, then the users, tokens and channels its endings credit, each set in id order: the global
 * order of every money path here (a charge locks user, token, channel), so a batch crediting many
 * users cannot deadlock with the submits and single refunds running meanwhile. The statements are
 * issued together (postgres.js pipelines them on the transaction's connection, in order).
 *
 * When the database refuses one row (SPEC §10: one bad item never spoils the rest of its batch),
 * the batch runs again with each op under its own savepoint: the refused op is rolled back alone
 * and reported as `refused`, the others (and their refunds) are written. Only then are the ops
 * sent one at a time; an outage, a deadlock or a serialization failure is thrown as before.
 */
export async function applySyncOpsPg(
  db: PgDB,
  ops: readonly SyncOp[],
  now: number,
  hook: PayloadOf,
  notify = false,
): Promise<SyncOpResult[]> {
  if (ops.length === 0) return [];
  try {
    return await runBatchPg(db, ops, now, hook, notify, false);
  } catch (err) {
    if (!isRowErrorPg(err)) throw err;
    return runBatchPg(db, ops, now, hook, notify, true);
  }
}

async function runBatchPg(
  db: PgDB,
  ops: readonly SyncOp[],
  now: number,
  hook: PayloadOf,
  notify: boolean,
  isolate: boolean,
): Promise<SyncOpResult[]> {
  const ids = [...new Set(ops.map((o) => o.taskId))];
  const failIds = [...new Set(ops.filter((o) => o.kind === 'fail').map((o) => o.taskId))];
  const patches = ops.map((o) => (o.kind === 'fail' ? pgFailurePatch(o.fields) : null));
  return db.$client.begin(async (sql) => {
    await sql`SELECT id FROM tasks WHERE id = ANY(${ids}::int[]) ORDER BY id FOR UPDATE`;
    if (failIds.length > 0) {
      await sql`SELECT
        (SELECT count(*) FROM (SELECT 1 FROM users WHERE id IN (SELECT user_id FROM tasks WHERE id = ANY(${failIds}::int[])) ORDER BY id FOR UPDATE) a) AS u,
        (SELECT count(*) FROM (SELECT 1 FROM tokens WHERE id IN (SELECT token_id FROM tasks WHERE id = ANY(${failIds}::int[])) ORDER BY id FOR UPDATE) b) AS k,
        (SELECT count(*) FROM (SELECT 1 FROM channels WHERE id IN (SELECT channel_id FROM tasks WHERE id = ANY(${failIds}::int[])) ORDER BY id FOR UPDATE) c) AS c`;
    }
    const one = async (q: TransactionSql, op: SyncOp, i: number): Promise<RefundResult> => {
      if (op.kind === 'fail') return failAndRefundPg(q, op.taskId, op.expectedQuota, patches[i]!, now, op.modelName);
      const f = op.fields;
      const rows = await q`
        UPDATE tasks SET progress = ${f.progress}::text, status = ${f.status}::text, prompt_en = ${f.promptEn}::text,
          state = ${f.state}::text, start_time = ${f.startTime}::bigint, finish_time = ${f.finishTime}::bigint,
          image_url = ${f.imageUrl}::text, video_url = ${f.videoUrl}::text, video_urls = ${f.videoUrls}::text,
          fail_reason = ${f.failReason}::text, buttons = ${f.buttons}::text, properties = ${f.properties}::text,
          updated_time = ${now}::bigint
        WHERE id = ${op.taskId}::int AND progress <> '100%' RETURNING id`;
      return { won: rows.length === 1, refunded: 0 };
    };
    let results: SyncOpResult[];
    if (!isolate) results = await Promise.all(ops.map((op, i) => one(sql, op, i)));
    else {
      results = [];
      for (const [i, op] of ops.entries()) {
        try {
          results.push(await sql.savepoint((sp) => one(sp, op, i)));
        } catch (err) {
          if (!isRowErrorPg(err)) throw err;
          results.push({ won: false, refunded: 0, refused: err instanceof Error ? err.message : String(err) });
        }
      }
    }
    const changed = ops.filter((_, i) => results[i]!.won).map((o) => o.taskId);
    await enqueueTaskChangePg(sql, changed, now, hook);
    // With `notify`, every replica's feed hears of the rows written when this commits.
    if (notify) await notifyTaskChanges(sql, changed);
    return results;
  });
}
