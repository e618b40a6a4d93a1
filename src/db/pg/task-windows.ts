import type { PendingQuery, Sql } from 'postgres';

/**
 * Bounded work for the two PostgreSQL listing shapes that would otherwise walk a large part of
 * `tasks`: a `submit_time` range (its total and the id window its rows live in) and a deep page
 * (the id block it starts in). Both read the trigger-kept tables of drizzle/pg/0003. coverOf is
 * the same split as the SQLite listing's (src/domain/task-windows.ts), kept here because db/ may
 * not import domain/.
 */

export const HOUR = 3_600_000;
export const DAY = 86_400_000;
const HOURS_PER_DAY = 24;
/** Larger than any bucket number an integer submit_time can produce. */
const NO_END = 2 ** 52;
export const ID_BLOCK = 1024;

export type Scope = { scope: 'all'; scopeId: 0; column: null } | { scope: 'user' | 'channel'; scopeId: number; column: 'user_id' | 'channel_id' };

/** The pieces a [start, end] range is summed from (bucket numbers inclusive, times in ms inclusive). */
export interface RangeCover {
  exact: Array<[number, number]>;
  hours: Array<[number, number]>;
  days: Array<[number, number]>;
}

/**
 * Split a submit_time range into whole days, whole hours, and at most two partial hours that
 * are counted exactly. An absent start includes bucket -1 (every negative time).
 */
export function coverOf(start: number | undefined, end: number | undefined): RangeCover {
  const exact: Array<[number, number]> = [];
  const h0 = start === undefined ? -1 : Math.ceil(start / HOUR);
  const h1 = end === undefined ? NO_END : Math.floor((end + 1) / HOUR) - 1;
  if (h0 > h1) return { exact: [[start!, end!]], hours: [], days: [] };
  if (start !== undefined && start < h0 * HOUR) exact.push([start, h0 * HOUR - 1]);
  if (end !== undefined && end > (h1 + 1) * HOUR - 1) exact.push([(h1 + 1) * HOUR, end]);
  const d0 = h0 < 0 ? -1 : Math.ceil(h0 / HOURS_PER_DAY);
  const d1 = h1 === NO_END ? NO_END : Math.floor((h1 + 1) / HOURS_PER_DAY) - 1;
  if (d0 > d1) return { exact, hours: [[h0, h1]], days: [] };
  const hours: Array<[number, number]> = [];
  // Day -1 stands for hour -1 (the negative times); day d >= 0 for hours 24d .. 24d + 23.
  if (d0 >= 0 && h0 < d0 * HOURS_PER_DAY) hours.push([h0, d0 * HOURS_PER_DAY - 1]);
  if (d1 !== NO_END && (d1 + 1) * HOURS_PER_DAY <= h1) hours.push([(d1 + 1) * HOURS_PER_DAY, h1]);
  return { exact, hours, days: [[d0, d1]] };
}

const EMPTY: [number, number] = [1, 0];

export interface Window { total: number; lo: number | null; hi: number | null }

/**
 * The exact number of rows of a scope with submit_time in [start, end], and ids [lo, hi] that
 * contain every such row (null when there is none), in one statement of fixed shape per scope:
 * at most one day range and two hour ranges of buckets, plus the rows of two partial edge hours.
 */
export async function rangeWindow(sql: Sql, s: Scope, start: number | undefined, end: number | undefined): Promise<Window> {
  const [row] = await rangeWindowQuery(sql, s, start, end);
  return { total: row!.n, lo: row!.lo, hi: row!.hi };
}

type WindowRow = { n: number; lo: number | null; hi: number | null };

export function rangeWindowQuery(sql: Sql, s: Scope, start: number | undefined, end: number | undefined): PendingQuery<WindowRow[]> {
  const c = coverOf(start, end);
  const [d0, d1] = c.days[0] ?? EMPTY;
  const [h0, h1] = c.hours[0] ?? EMPTY;
  const [h2, h3] = c.hours[1] ?? EMPTY;
  const [e0, e1] = c.exact[0] ?? EMPTY;
  const [e2, e3] = c.exact[1] ?? EMPTY;
  const bucketRows = (span: number, a: number, b: number) => sql`
    SELECT count AS n, min_id AS lo, max_id AS hi FROM task_time_buckets
    WHERE scope = ${s.scope} AND scope_id = ${s.scopeId} AND span = ${span} AND bucket BETWEEN ${a} AND ${b} AND count <> 0`;
  const exactRows = (a: number, b: number) => s.column === 'user_id'
    ? sql`SELECT 1, id, id FROM tasks WHERE user_id = ${s.scopeId} AND submit_time BETWEEN ${a} AND ${b}`
    : s.column === 'channel_id'
      ? sql`SELECT 1, id, id FROM tasks WHERE channel_id = ${s.scopeId} AND submit_time BETWEEN ${a} AND ${b}`
      : sql`SELECT 1, id, id FROM tasks WHERE submit_time BETWEEN ${a} AND ${b}`;
  return sql<WindowRow[]>`
    SELECT coalesce(sum(n), 0)::bigint AS n, min(lo) AS lo, max(hi) AS hi FROM (
      ${bucketRows(DAY, d0, d1)} UNION ALL ${bucketRows(HOUR, h0, h1)} UNION ALL ${bucketRows(HOUR, h2, h3)}
      UNION ALL ${exactRows(e0, e1)} UNION ALL ${exactRows(e2, e3)}) parts`;
}

/**
 * Where the row at `offset` (0-based, newest first) of a scope lives: the exclusive id bound of
 * its block and the offset left inside it. Null when the blocks cannot say (negative ids, or the
 * offset is past the end).
 */
export async function blockStart(sql: Sql, s: Scope, offset: number): Promise<{ below: number; offset: number } | null> {
  const [row] = await blockStartQuery(sql, s, offset);
  if (!row || row.block < 0) return null;
  return { below: (row.block + 1) * ID_BLOCK, offset: offset - row.before };
}

export function blockStartQuery(sql: Sql, s: Scope, offset: number): PendingQuery<Array<{ block: number; before: number }>> {
  return sql<Array<{ block: number; before: number }>>`
    SELECT block, before FROM (
      SELECT block, n, (sum(n) OVER (ORDER BY block DESC) - n)::bigint AS before FROM (
        SELECT block, sum(count) AS n FROM task_id_blocks WHERE scope = ${s.scope} AND scope_id = ${s.scopeId}
        GROUP BY block) g) w
    WHERE before + n > ${offset} ORDER BY block DESC LIMIT 1`;
}

/** A scope's row count: the sum of its task_counters slots. */
export async function scopeTotal(sql: Sql, s: Scope): Promise<number> {
  const [row] = await scopeTotalQuery(sql, s);
  return Math.max(0, row!.n);
}

export function scopeTotalQuery(sql: Sql, s: Scope): PendingQuery<Array<{ n: number }>> {
  return sql<Array<{ n: number }>>`
    SELECT coalesce(sum(count), 0)::bigint AS n FROM task_counters WHERE scope = ${s.scope} AND scope_id = ${s.scopeId}`;
}
