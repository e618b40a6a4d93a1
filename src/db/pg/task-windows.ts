import type { PendingQuery, Sql } from 'postgres';
import { BUCKET_SPANS } from '../listing-design.ts';
import { coverOf as coverRange, ID_BLOCK, type RangeCover, type Scope } from '../listing-plan.ts';

/**
 * Bounded work for the two PostgreSQL listing shapes that would otherwise walk a large part of
 * `tasks`: a `submit_time` range (its total and the id window its rows live in) and a deep page
 * (the id block it starts in). Both read the trigger-kept tables of drizzle/pg (task buckets).
 * The split of a range follows the SQLite listing's (src/db/sqlite/task-windows.ts coverOf) without
 * its minute level (the partial hours at the two edges are counted through the submit_time indexes).
 */

export const HOUR = 3_600_000;
export const DAY = 86_400_000;
/** Bucket widths kept by drizzle/pg 0009, coarsest first (src/db/listing-design.ts). */
export const SPANS = BUCKET_SPANS.pg;

export { ID_BLOCK, type RangeCover, type Scope };

/** The cover of a range over PostgreSQL's spans (src/db/listing-plan.ts coverOf). */
export function coverOf(start: number | undefined, end: number | undefined): RangeCover {
  return coverRange(start, end, BUCKET_SPANS.pg);
}

const EMPTY: [number, number] = [1, 0];

export interface Window {
  total: number;
  lo: number | null;
  hi: number | null;
}
type WindowRow = { n: number; lo: number | null; hi: number | null };

/**
 * The exact number of rows of a scope with submit_time in [start, end], and ids [lo, hi] that
 * contain every such row (null when there is none).
 */
export async function rangeWindow(
  sql: Sql,
  s: Scope,
  start: number | undefined,
  end: number | undefined,
): Promise<Window> {
  const [row] = await rangeWindowQuery(sql, s, start, end);
  return { total: row!.n, lo: row!.lo, hi: row!.hi };
}

/**
 * One call of tasks_range_window (drizzle/pg 0003): its statements run as generic plans, planned
 * once per connection, so the call costs the same at any table size.
 */
export function rangeWindowQuery(
  sql: Sql,
  s: Scope,
  start: number | undefined,
  end: number | undefined,
): PendingQuery<WindowRow[]> {
  const c = coverOf(start, end);
  const [e0, e1] = c.exact[0] ?? EMPTY;
  const [e2, e3] = c.exact[1] ?? EMPTY;
  return sql<WindowRow[]>`SELECT n, lo, hi FROM tasks_range_window(${s.scope}, ${s.scopeId},
    ${c.buckets.map((b) => b.span)}::integer[], ${c.buckets.map((b) => b.from)}::bigint[], ${c.buckets.map((b) => b.to)}::bigint[],
    ${e0}, ${e1}, ${e2}, ${e3})`;
}

/**
 * Where the row at `offset` (0-based, newest first) of a scope lives: the exclusive id bound of
 * its level 0 block and the offset left inside it. Null when the offset is past the end.
 */
export async function blockStart(
  sql: Sql,
  s: Scope,
  offset: number,
): Promise<{ below: number; offset: number } | null> {
  const [row] = await blockStartQuery(sql, s, offset);
  if (!row) return null;
  return { below: (row.block + 1) * ID_BLOCK, offset: offset - row.before };
}

/**
 * Blocks stream newest first, as on SQLite: a backward scan of the primary key (block, slot), two
 * running sums over it (everything down to this block, and this block alone: its peers), stopped at
 * the first row past the offset. The rows read follow the offset (offset / 1024 blocks, times the
 * 8 slots), not the table's size. No GROUP BY (a generic plan hashes every block of the scope, then
 * sorts them) and no outer ORDER BY (the LIMIT would then not reach the scan's planning, which
 * sorts every block again): the window emits rows in its own order and nothing above reorders them.
 */
export function blockStartQuery(
  sql: Sql,
  s: Scope,
  offset: number,
): PendingQuery<Array<{ block: number; before: number }>> {
  return sql<Array<{ block: number; before: number }>>`
    SELECT block, (upto - n)::bigint AS before FROM (
      SELECT block, sum(count) OVER (ORDER BY block DESC) AS upto,
        sum(count) OVER (ORDER BY block DESC RANGE BETWEEN CURRENT ROW AND CURRENT ROW) AS n
      FROM task_id_blocks WHERE scope = ${s.scope} AND scope_id = ${s.scopeId} AND level = 0) w
    WHERE upto > ${offset} LIMIT 1`;
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
