import type { DB } from '../db/client.ts';
import { prepared } from '../db/prepared.ts';

/**
 * Bounded work for the two listing shapes that would otherwise walk a large part of `tasks`:
 * a `submit_time` range (its total and the id window its rows live in) and a deep page (the id
 * block it starts in). Both read the trigger-maintained tables of migration 0004.
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
  let h0: number;
  let h1: number;
  if (start === undefined) h0 = -1;
  else h0 = Math.ceil(start / HOUR);
  if (end === undefined) h1 = NO_END;
  else h1 = Math.floor((end + 1) / HOUR) - 1;
  if (h0 > h1) {
    // Both bounds exist and no whole hour fits between them.
    return { exact: [[start!, end!]], hours: [], days: [] };
  }
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

interface Summary { n: number; lo: number | null; hi: number | null }

export const BUCKETS_SQL = `SELECT coalesce(sum(count), 0) AS n, min(min_id) AS lo, max(max_id) AS hi FROM task_time_buckets
  WHERE scope = ?1 AND scope_id = ?2 AND span = ?3 AND bucket BETWEEN ?4 AND ?5`;

export function exactSql(column: string | null): string {
  const scoped = column ? `${column} = ?1 AND ` : '?1 = ?1 AND ';
  return `SELECT count(*) AS n, min(id) AS lo, max(id) AS hi FROM tasks WHERE ${scoped}submit_time BETWEEN ?2 AND ?3`;
}

/**
 * The exact number of rows of a scope with submit_time in [start, end], and ids [lo, hi] that
 * contain every such row (null when there is none). Reads at most a few bucket rows per day of
 * range plus the rows of the two partial edge hours, whatever the table size.
 */
export function rangeWindow(db: DB, s: Scope, start: number | undefined, end: number | undefined): { total: number; lo: number | null; hi: number | null } {
  const cover = coverOf(start, end);
  const parts: Summary[] = [];
  const buckets = prepared<Summary>(db, BUCKETS_SQL);
  for (const [a, b] of cover.days) parts.push(buckets.get(s.scope, s.scopeId, DAY, a, b)!);
  for (const [a, b] of cover.hours) parts.push(buckets.get(s.scope, s.scopeId, HOUR, a, b)!);
  const exact = prepared<Summary>(db, exactSql(s.column));
  for (const [a, b] of cover.exact) parts.push(exact.get(s.scopeId, a, b)!);
  let total = 0;
  let lo: number | null = null;
  let hi: number | null = null;
  for (const p of parts) {
    if (!p.n) continue;
    total += p.n;
    if (p.lo !== null && (lo === null || p.lo < lo)) lo = p.lo;
    if (p.hi !== null && (hi === null || p.hi > hi)) hi = p.hi;
  }
  return { total, lo, hi };
}

export const BLOCKS_SQL = 'SELECT block, count FROM task_id_blocks WHERE scope = ?1 AND scope_id = ?2 ORDER BY block DESC';

/**
 * Where the row at `offset` (0-based, newest first) of a scope lives: the exclusive id bound of
 * its block and the offset left inside it. Null when the blocks cannot say (negative ids).
 */
export function blockStart(db: DB, s: Scope, offset: number): { below: number; offset: number } | null {
  const blocks = prepared<{ block: number; count: number }>(db, BLOCKS_SQL);
  let before = 0;
  for (const row of blocks.iterate(s.scope, s.scopeId)) {
    if (before + row.count > offset) {
      return row.block < 0 ? null : { below: (row.block + 1) * ID_BLOCK, offset: offset - before };
    }
    before += row.count;
  }
  return null;
}
