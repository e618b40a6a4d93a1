import type { PendingQuery, Row, Sql } from 'postgres';
import type { TaskRow } from '../../contract/rows.ts';
import { itemBytesAtLeastSql, TEXT_LENGTHS_SQL } from '../../lib/item-size-sql.ts';
import { type Page, type PageQuery, pageOf, type TaskFilter } from '../../lib/paging.ts';
import { type FilterCount, planTotal, startsFromBlock } from '../listing-plan.ts';
import type { PgDB } from './client.ts';
import {
  blockStart,
  blockStartQuery,
  rangeWindow,
  rangeWindowQuery,
  scopeTotal,
  scopeTotalQuery,
} from './task-windows.ts';

/**
 * The task listing on PostgreSQL: the same pages and totals as the SQLite listing
 * (src/db/sqlite/listing.ts listTasks), flat at any table size, over the same plain-value filter and
 * paging (lib/paging.ts).
 */
export type { Page, PageQuery, TaskFilter };

/** How the page query is bounded: not at all, to an id window (time ranges), or below an id (deep pages). */
type Variant = 'plain' | 'window' | 'below';

/** Every column of `tasks`, named as TaskRow (aliased in SQL: no per-row mapping in JavaScript). */
const COLUMNS = `id, user_id AS "userId", token_id AS "tokenId", channel_id AS "channelId", code, action, mj_id AS "mjId",
  prompt, prompt_en AS "promptEn", description, state, submit_time AS "submitTime", start_time AS "startTime",
  finish_time AS "finishTime", image_url AS "imageUrl", video_url AS "videoUrl", video_urls AS "videoUrls", status,
  progress, fail_reason AS "failReason", quota, buttons, properties, updated_time AS "updatedTime"`;

interface Bounds {
  lo?: number;
  hi?: number;
  below?: number;
}

/**
 * The WHERE terms of a filter shape. Every shape gives one fixed SQL text, so postgres.js
 * prepares each shape once per connection and reuses it. In the id window the time terms are
 * filters only (`+ 0` / `- 0` keep the planner off the submit_time indexes): the page walks ids.
 */
function whereOf(sql: Sql, f: TaskFilter, variant: Variant, b: Bounds): PendingQuery<Row[]> {
  const parts: Array<PendingQuery<Row[]>> = [];
  if (f.userId !== undefined) parts.push(sql`user_id = ${f.userId}`);
  if (f.channelId !== undefined) parts.push(sql`channel_id = ${f.channelId}`);
  if (f.mjId !== undefined) parts.push(sql`mj_id = ${f.mjId}`);
  if (f.status !== undefined) parts.push(sql`status = ${f.status}`);
  if (f.action !== undefined) parts.push(sql`action = ${f.action}`);
  // What the partial status and action indexes need to hear (the schema's tasks.ts): a generic
  // plan cannot see that a parameter is SUCCESS or not IMAGINE.
  if (f.status === 'SUCCESS' || f.status === 'FAILURE') parts.push(sql`status IN ('SUCCESS', 'FAILURE')`);
  if (f.action !== undefined && f.action !== 'IMAGINE') parts.push(sql`action <> 'IMAGINE'`);
  if (variant === 'window') {
    // Two different expressions on purpose: one expression bounded on both sides is estimated
    // as a 0.5% range and the planner sorts the whole window instead of walking ids in order.
    if (f.start !== undefined) parts.push(sql`submit_time + 0 >= ${f.start}`);
    if (f.end !== undefined) parts.push(sql`submit_time - 0 <= ${f.end}`);
    parts.push(sql`id BETWEEN ${b.lo!} AND ${b.hi!}`);
  } else {
    if (f.start !== undefined) parts.push(sql`submit_time >= ${f.start}`);
    if (f.end !== undefined) parts.push(sql`submit_time <= ${f.end}`);
  }
  if (variant === 'below') parts.push(sql`id < ${b.below!}`);
  if (parts.length === 0) return sql`TRUE`;
  return parts.reduce((acc, p) => sql`${acc} AND ${p}`);
}

/**
 * The page statement: ids first through an index (skipped entries cost an index step), then the
 * rows, each by its primary key: `OFFSET 0` keeps the lookup a nested loop even in a generic
 * plan, which cannot see how small the page is and would otherwise hash-join a scan of tasks.
 */
export function pageQuery(sql: Sql, f: TaskFilter, variant: Variant, b: Bounds, limit: number, offset: number) {
  return sql<TaskRow[]>`SELECT t.* FROM (
    SELECT id FROM tasks WHERE ${whereOf(sql, f, variant, b)} ORDER BY id DESC LIMIT ${limit} OFFSET ${offset}) p
    CROSS JOIN LATERAL (SELECT ${sql.unsafe(COLUMNS)} FROM tasks WHERE tasks.id = p.id OFFSET 0) t
    ORDER BY t.id DESC`;
}

/**
 * EXPLAIN (FORMAT JSON) of every statement a filter's page runs at this paging (bounds resolved
 * first, as the listing does), for plan checks.
 */
export async function explainListing(
  db: PgDB,
  f: TaskFilter,
  paging: PageQuery,
): Promise<{ variant: Variant; plans: unknown[] }> {
  const sql = db.$client;
  const { pageSize, offset } = pageOf(paging);
  const r = await resolve(sql, f, offset);
  const explain = async <T extends readonly object[]>(q: PendingQuery<T>) => {
    const [row] = await sql<Array<{ 'QUERY PLAN': unknown }>>`EXPLAIN (FORMAT JSON) ${q}`;
    return row!['QUERY PLAN'];
  };
  const plans = [await explain(pageQuery(sql, f, r.variant, r.bounds, pageSize, r.offset))];
  const plan = planTotal(f);
  if (plan.kind === 'counted') plans.push(await explain(filterTotalQuery(sql, plan.count)));
  else if (plan.kind === 'rows') plans.push(await explain(countQuery(sql, f)));
  else if (plan.kind === 'range') plans.push(await explain(rangeWindowQuery(sql, plan.scope, f.start, f.end)));
  else plans.push(await explain(scopeTotalQuery(sql, plan.scope)));
  if (plan.kind === 'scope' && r.variant === 'below')
    plans.push(await explain(blockStartQuery(sql, plan.scope, offset)));
  return { variant: r.variant, plans };
}

function countQuery(sql: Sql, f: TaskFilter) {
  return sql<Array<{ n: number }>>`SELECT count(*) AS n FROM tasks WHERE ${whereOf(sql, f, 'plain', {})}`;
}

function filterTotalQuery(sql: Sql, c: FilterCount) {
  // `IS NULL OR` keeps one statement per shape; the key prefix (owner, owner_id) bounds the walk.
  return sql<Array<{ n: number }>>`SELECT coalesce(sum(count), 0)::int AS n FROM task_filter_counts
    WHERE owner = ${c.owner} AND owner_id = ${c.ownerId}
    AND (${c.status}::text IS NULL OR status = ${c.status}::text) AND (${c.action}::text IS NULL OR action = ${c.action}::text)`;
}

interface Resolved {
  variant: Variant;
  bounds: Bounds;
  offset: number;
  total: number;
}

async function resolve(sql: Sql, f: TaskFilter, offset: number): Promise<Resolved> {
  const plan = planTotal(f);
  if (plan.kind === 'counted') {
    const [row] = await filterTotalQuery(sql, plan.count);
    return { variant: 'plain', bounds: {}, offset, total: Math.max(0, row?.n ?? 0) };
  }
  if (plan.kind === 'rows') {
    const [row] = await countQuery(sql, f);
    return { variant: 'plain', bounds: {}, offset, total: row!.n };
  }
  if (plan.kind === 'range') {
    const w = await rangeWindow(sql, plan.scope, f.start, f.end);
    return { variant: 'window', bounds: { lo: w.lo ?? 0, hi: w.hi ?? -1 }, offset, total: w.total };
  }
  const total = await scopeTotal(sql, plan.scope);
  if (startsFromBlock(plan, offset, total)) {
    const start = await blockStart(sql, plan.scope, offset);
    if (start) return { variant: 'below', bounds: { below: start.below }, offset: start.offset, total };
  }
  return { variant: 'plain', bounds: {}, offset, total };
}

/** See TaskReads.ownByMjIdsSize (the SQLite twin in db/sqlite/listing.ts). */
export async function ownTasksByMjIdsSizePg(
  db: PgDB,
  userId: number,
  mjIds: readonly string[],
  itemCap: number,
): Promise<number> {
  if (mjIds.length === 0) return 0;
  const sql = db.$client;
  const [row] = await sql<
    Array<{ bytes: string }>
  >`SELECT coalesce(sum(${sql.unsafe(itemBytesAtLeastSql(Math.floor(itemCap)))}), 0)::text AS bytes
    FROM (SELECT ${sql.unsafe(TEXT_LENGTHS_SQL)} FROM tasks WHERE id IN (
      SELECT max(id) FROM tasks WHERE user_id = ${userId}::int AND mj_id = ANY(${[...mjIds]}::text[]) GROUP BY mj_id)) s`;
  return Number(row?.bytes ?? 0);
}

/**
 * One page of tasks, newest first (`id` descending), with the exact total of the filter. The
 * total of a scope comes from the trigger-kept task_counters (slots summed), of a time range
 * from the hour/day buckets plus the two partial edge hours; an mj_id filter is narrow and
 * counts through its index. A deep page starts from its id block, not from the newest row.
 */
export async function listTasksPg(db: PgDB, f: TaskFilter, paging: PageQuery): Promise<Page<TaskRow>> {
  const sql = db.$client;
  const { page, pageSize, offset } = pageOf(paging);
  const r = await resolve(sql, f, offset);
  const items = offset >= r.total ? [] : [...(await pageQuery(sql, f, r.variant, r.bounds, pageSize, r.offset))];
  return { items, total: r.total, page, page_size: pageSize };
}
