import type { DB } from '../client.ts';
import { BUCKET_SPANS } from '../listing-design.ts';
import { coverOf as coverRange, ID_BLOCK, type RangeCover, type Scope } from '../listing-plan.ts';
import { prepared } from '../prepared.ts';

/**
 * Bounded work for the two listing shapes that would otherwise walk a large part of `tasks`:
 * a `submit_time` range (its total and the id window its rows live in) and a deep page (the id
 * block it starts in). Both read the trigger-maintained tables of migration 0007.
 */

export const MINUTE = 60_000;
export const HOUR = 3_600_000;
export const DAY = 86_400_000;
/** The bucket spans kept by the triggers (migration 0007), coarsest first. */
export const SPANS = BUCKET_SPANS.sqlite;

export { ID_BLOCK, type RangeCover, type Scope };

/** The cover of a range over SQLite's spans (src/db/listing-plan.ts coverOf). */
export function coverOf(start: number | undefined, end: number | undefined): RangeCover {
  return coverRange(start, end, SPANS);
}

interface Summary {
  n: number;
  lo: number | null;
  hi: number | null;
}

/** A cover has at most this many bucket ranges (a day range, and an hour and a minute range per edge). */
export const BUCKET_SLOTS = 5;
/** And at most this many partial pieces (a partial minute per edge). */
export const EXACT_SLOTS = 2;

/**
 * A range's total and id window in one statement: a sum over bucket rows per bucket range, and a
 * count over the rows of each partial minute. Each piece is its own SELECT with every term a plain
 * conjunct, so each is one bounded index search whatever the planner knows of the data (OR-ed
 * pieces let it fall back to reading every bucket, or every row, of the scope). Unused bucket
 * slots get span 0, which no row has; unused partial slots an empty range.
 */
export function windowSql(column: string | null): string {
  const buckets = Array.from(
    { length: BUCKET_SLOTS },
    (_, k) =>
      `SELECT sum(count) AS n, min(min_id) AS lo, max(max_id) AS hi FROM task_time_buckets
    WHERE scope = ?1 AND scope_id = ?2 AND span = ?${3 + 3 * k} AND bucket BETWEEN ?${4 + 3 * k} AND ?${5 + 3 * k} AND count > 0`,
  );
  const first = 3 + 3 * BUCKET_SLOTS;
  const scoped = column ? `${column} = ?2 AND ` : '';
  const exact = Array.from(
    { length: EXACT_SLOTS },
    (_, k) =>
      `SELECT count(*) AS n, min(id) AS lo, max(id) AS hi FROM tasks WHERE ${scoped}submit_time BETWEEN ?${first + 2 * k} AND ?${first + 1 + 2 * k}`,
  );
  return `SELECT coalesce(sum(n), 0) AS n, min(lo) AS lo, max(hi) AS hi FROM (${[...buckets, ...exact].join('\n  UNION ALL ')})`;
}

/**
 * The exact number of rows of a scope with submit_time in [start, end], and ids [lo, hi] that
 * contain every such row (null when there is none). One statement that reads a bucket row per
 * day of range plus at most 94 hour and 238 minute rows, and the rows of two partial minutes,
 * whatever the table size.
 */
export function rangeWindow(
  db: DB,
  s: Scope,
  start: number | undefined,
  end: number | undefined,
): { total: number; lo: number | null; hi: number | null } {
  const cover = coverOf(start, end);
  if (cover.buckets.length > BUCKET_SLOTS || cover.exact.length > EXACT_SLOTS)
    throw new Error('range cover has too many pieces');
  const args: Array<string | number> = [s.scope, s.scopeId];
  for (let k = 0; k < BUCKET_SLOTS; k++) {
    const b = cover.buckets[k];
    args.push(b ? b.span : 0, b ? b.from : 1, b ? b.to : 0);
  }
  for (let k = 0; k < EXACT_SLOTS; k++) {
    const e = cover.exact[k];
    args.push(e ? e[0] : 1, e ? e[1] : 0);
  }
  const row = prepared<Summary>(db, windowSql(s.column)).get(...args);
  const total = row?.n ?? 0;
  return total > 0 ? { total, lo: row!.lo, hi: row!.hi } : { total: 0, lo: null, hi: null };
}

export const BLOCKS_SQL =
  'SELECT block, count FROM task_id_blocks WHERE scope = ?1 AND scope_id = ?2 ORDER BY block DESC';

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
