import type { TaskFilter } from '../lib/paging.ts';
import type { CountOwner } from './listing-design.ts';

/**
 * How a listing page is read, decided once for both databases: where its exact total comes from
 * and how its page query is bounded. The adapters (db/sqlite/listing.ts, db/pg/listing.ts) run
 * the SQL of the plan; neither decides anything of its own but SQLite's choice between walking a
 * time range's id window and scanning its time index (a cost only SQLite's plans have).
 */

/** Ids per block of `task_id_blocks` (both dialects' triggers use it). */
export const ID_BLOCK = 1024;
/** Below this offset a plain OFFSET is as cheap as finding the id block. */
export const DEEP_OFFSET = 2 * ID_BLOCK;

/** One scope of the hand-kept listing tables (task_counters, task_time_buckets, task_id_blocks). */
export type Scope =
  | { scope: 'all'; scopeId: 0; column: null }
  | { scope: 'user' | 'channel'; scopeId: number; column: 'user_id' | 'channel_id' };

/** The counts of a listing with a counted filter (status, action; src/db/listing-design.ts). */
export interface FilterCount {
  owner: CountOwner;
  ownerId: number;
  /** null: any value. */
  status: string | null;
  action: string | null;
}

/**
 * Where a listing's total comes from:
 * - `scope`: the scope's counter (O(1)); a deep page starts from its id block;
 * - `range`: the scope's time buckets (a bounded number of rows); the page walks the id window;
 * - `counted`: one owner's rows of task_filter_counts; the page walks a status/action index;
 * - `rows`: the matching rows, counted through an index (an mj_id, an owner and a channel, or a
 *   counted filter with a time range).
 */
export type TotalPlan =
  | { kind: 'scope'; scope: Scope }
  | { kind: 'range'; scope: Scope }
  | { kind: 'counted'; count: FilterCount }
  | { kind: 'rows' };

function scopeOf(f: TaskFilter): Scope {
  if (f.userId !== undefined) return { scope: 'user', scopeId: f.userId, column: 'user_id' };
  if (f.channelId !== undefined) return { scope: 'channel', scopeId: f.channelId, column: 'channel_id' };
  return { scope: 'all', scopeId: 0, column: null };
}

export function planTotal(f: TaskFilter): TotalPlan {
  if (f.mjId !== undefined || (f.userId !== undefined && f.channelId !== undefined)) return { kind: 'rows' };
  const ranged = f.start !== undefined || f.end !== undefined;
  if (f.status !== undefined || f.action !== undefined) {
    if (ranged) return { kind: 'rows' };
    const s = scopeOf(f);
    return {
      kind: 'counted',
      count: { owner: s.scope, ownerId: s.scopeId, status: f.status ?? null, action: f.action ?? null },
    };
  }
  return ranged ? { kind: 'range', scope: scopeOf(f) } : { kind: 'scope', scope: scopeOf(f) };
}

/** Whether a page at `offset` of a scope's `total` rows starts from its id block. */
export function startsFromBlock(plan: TotalPlan, offset: number, total: number): boolean {
  return plan.kind === 'scope' && offset >= DEEP_OFFSET && offset < total;
}

/** A run of whole time buckets of one span (bucket numbers inclusive). */
export interface BucketRun {
  span: number;
  from: number;
  to: number;
}

/** The pieces a [start, end] range is summed from: bucket runs, and ms ranges counted row by row. */
export interface RangeCover {
  buckets: BucketRun[];
  exact: Array<[number, number]>;
}

/** Larger than any bucket number an integer submit_time can produce. */
const NO_END = 2 ** 52;

/**
 * Split a submit_time range over a dialect's bucket spans (coarsest first, each a whole multiple
 * of the next; src/db/listing-design.ts BUCKET_SPANS): whole buckets of the coarsest span, then of
 * each finer span at the two edges, and at most one partial piece per edge counted exactly. An
 * absent start includes bucket -1 (every negative time, at each span); an absent end runs to the
 * last bucket.
 */
export function coverOf(start: number | undefined, end: number | undefined, spans: readonly number[]): RangeCover {
  const cover: RangeCover = { buckets: [], exact: [] };
  split(cover, spans, start, end, 0);
  return cover;
}

function split(
  cover: RangeCover,
  spans: readonly number[],
  start: number | undefined,
  end: number | undefined,
  level: number,
): void {
  const span = spans[level];
  if (span === undefined) {
    cover.exact.push([start ?? Number.MIN_SAFE_INTEGER, end ?? Number.MAX_SAFE_INTEGER]);
    return;
  }
  const from = start === undefined ? -1 : Math.ceil(start / span);
  const to = end === undefined ? NO_END : Math.floor((end + 1) / span) - 1;
  if (from > to) {
    split(cover, spans, start, end, level + 1);
    return;
  }
  cover.buckets.push({ span, from, to });
  if (start !== undefined && start < from * span) split(cover, spans, start, from * span - 1, level + 1);
  if (end !== undefined && end > (to + 1) * span - 1) split(cover, spans, (to + 1) * span, end, level + 1);
}

/** The sum of a FilterCount on SQLite (parameters: owner, owner id, status, action; null = any). */
export const FILTER_COUNT_SQL =
  'SELECT coalesce(sum(count), 0) AS n FROM task_filter_counts WHERE owner = ?1 AND owner_id = ?2 ' +
  'AND (?3 IS NULL OR status = ?3) AND (?4 IS NULL OR action = ?4)';
