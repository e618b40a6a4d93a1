import type { Statement } from 'bun:sqlite';
import type { Fingerprint, TaskFeedReads } from '../../contract/feed.ts';
import type { TaskRow } from '../../contract/rows.ts';
import { itemBytesAtLeastSql } from '../../lib/item-size-sql.ts';
import type { DB } from '../client.ts';
import { TASK_COLUMNS_SQL } from './bounded-columns.ts';
import { BUTTONS_SQL, TASK_TEXT_LENGTHS_SQL } from './button-sets.ts';

/**
 * The reads of the in-process task feed (domain/task-feed.ts InProcessTaskFeed) on bun:sqlite,
 * prepared once. Synchronous on purpose: a writer publishes right after its commit, and the
 * fingerprints must be read then, in publish order.
 */

const FP = `SELECT id, user_id, updated_time || '|' || status || '|' || progress || '|' || mj_id || '|' || quota || '|' ||
      length(image_url) || '|' || length(fail_reason) || '|' || length(${BUTTONS_SQL}) AS fp FROM tasks`;

/** The feed's statements (exported for the EXPLAIN QUERY PLAN checks). */
export const FEED_READS_SQL = {
  fingerprints: `${FP} WHERE id IN (SELECT value FROM json_each(?))`,
  // The relay publishes one task at a time: a plain key lookup, no JSON built or parsed.
  fingerprintOne: `${FP} WHERE id = ?`,
  byId: `SELECT ${TASK_COLUMNS_SQL} FROM tasks WHERE id = ?`,
  replayUser: `SELECT ${TASK_COLUMNS_SQL} FROM tasks WHERE user_id = ? AND submit_time >= ? AND updated_time >= ? ORDER BY updated_time DESC, id DESC LIMIT ?`,
  replayAll: `SELECT ${TASK_COLUMNS_SQL} FROM tasks WHERE submit_time >= ? AND updated_time >= ? ORDER BY updated_time DESC, id DESC LIMIT ?`,
} as const;

export function createSqliteFeedReads(db: DB) {
  const c = db.$client;
  const fingerprints = c.prepare<Fingerprint, [string]>(FEED_READS_SQL.fingerprints);
  const fingerprintOne = c.prepare<Fingerprint, [number]>(FEED_READS_SQL.fingerprintOne);
  const byId = c.prepare<Record<string, unknown>, [number]>(FEED_READS_SQL.byId);
  const replayUser = c.prepare<Record<string, unknown>, [number, number, number, number]>(FEED_READS_SQL.replayUser);
  const replayAll = c.prepare<Record<string, unknown>, [number, number, number]>(FEED_READS_SQL.replayAll);
  // Prepared once per item cap (one in practice: the listing item budget).
  const sizeSql = (
    where: string,
    order: string,
    cap: number,
  ) => `SELECT count(*) AS n, coalesce(sum(${itemBytesAtLeastSql(Math.floor(cap))}), 0) AS bytes
    FROM (SELECT ${TASK_TEXT_LENGTHS_SQL} FROM tasks WHERE ${where} ORDER BY ${order} LIMIT ?)`;
  type SizeStatement = Statement<{ n: number; bytes: number }, number[]>;
  const sizes = new Map<
    number,
    { user: SizeStatement; all: SizeStatement; certainUser: SizeStatement; certainAll: SizeStatement }
  >();
  const sizeStatements = (cap: number) => {
    let st = sizes.get(cap);
    if (!st) {
      st = {
        user: c.prepare(
          sizeSql('user_id = ? AND submit_time >= ? AND updated_time >= ?', 'updated_time DESC, id DESC', cap),
        ),
        all: c.prepare(sizeSql('submit_time >= ? AND updated_time >= ?', 'updated_time DESC, id DESC', cap)),
        // Rows submitted since: surely in the replay (updated at or after their submit), and
        // counted from the submit_time index and the record headers alone.
        certainUser: c.prepare(sizeSql('user_id = ? AND submit_time >= ?', 'submit_time DESC', cap)),
        certainAll: c.prepare(sizeSql('submit_time >= ?', 'submit_time DESC', cap)),
      };
      sizes.set(cap, st);
    }
    return st;
  };
  return {
    /**
     * How many rows `replay` would return (at most `limit`) and the fewest bytes their items take,
     * from the column lengths alone: the feed refuses an oversize replay without reading it.
     */
    replaySize(userId, windowStart, since, limit, itemCap, maxBytes): { count: number; bytes: number } {
      const st = sizeStatements(itemCap);
      // The part that is certain first: when it alone is past a bound, the rest is not read (reading
      // updated_time of a row walks its overflow pages: the whole row).
      const from = Math.max(windowStart, since);
      const sure = userId === null ? st.certainAll.get(from, limit) : st.certainUser.get(userId, from, limit);
      if (sure && (sure.n >= limit || sure.bytes > maxBytes)) return { count: sure.n, bytes: sure.bytes };
      const r =
        userId === null ? st.all.get(windowStart, since, limit) : st.user.get(userId, windowStart, since, limit);
      return { count: r?.n ?? 0, bytes: r?.bytes ?? 0 };
    },
    fingerprints(taskIds): Fingerprint[] {
      return taskIds.length === 1 ? fingerprintOne.all(taskIds[0]!) : fingerprints.all(JSON.stringify(taskIds));
    },
    row(id): TaskRow | null {
      const raw = byId.get(id);
      return raw ? toTaskRow(raw) : null;
    },
    /**
     * Tasks (of one user, or all) submitted at or after `windowStart` and updated at or after
     * `since`, newest change first, at most `limit`.
     */
    replay(userId, windowStart, since, limit): TaskRow[] {
      const rows =
        userId === null ? replayAll.all(windowStart, since, limit) : replayUser.all(userId, windowStart, since, limit);
      return rows.map(toTaskRow);
    },
  } satisfies TaskFeedReads;
}

/** A raw `SELECT *` row of tasks in Drizzle's property names. */
function toTaskRow(r: Record<string, unknown>): TaskRow {
  const n = (k: string) => Number(r[k] ?? 0);
  const s = (k: string) => String(r[k] ?? '');
  return {
    id: n('id'),
    userId: n('user_id'),
    tokenId: n('token_id'),
    channelId: n('channel_id'),
    code: n('code'),
    action: s('action'),
    mjId: s('mj_id'),
    prompt: s('prompt'),
    promptEn: s('prompt_en'),
    description: s('description'),
    state: s('state'),
    submitTime: n('submit_time'),
    startTime: n('start_time'),
    finishTime: n('finish_time'),
    imageUrl: s('image_url'),
    videoUrl: s('video_url'),
    videoUrls: s('video_urls'),
    status: s('status'),
    progress: s('progress'),
    failReason: s('fail_reason'),
    quota: n('quota'),
    buttons: s('buttons'),
    properties: s('properties'),
    updatedTime: n('updated_time'),
  };
}
