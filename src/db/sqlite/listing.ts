import { and, asc, desc, eq, gte, inArray, lt, lte, Placeholder, type SQL, sql } from 'drizzle-orm';
import type { TaskRow } from '../../contract/rows.ts';
import { itemBytesAtLeastSql } from '../../lib/item-size-sql.ts';
import { type Page, pageOf, type TaskFilter } from '../../lib/paging.ts';
import type { DB } from '../client.ts';
import {
  DEEP_OFFSET,
  FILTER_COUNT_SQL,
  type FilterCount,
  planTotal,
  type Scope,
  startsFromBlock,
  type TotalPlan,
} from '../listing-plan.ts';
import { perConnection, prepared } from '../prepared.ts';
import { tasks } from '../schema/index.ts';
import { TASK_OVERSIZE_SQL } from '../schema/tasks.ts';
import {
  BOUNDED_TASK_COLUMNS_SQL,
  boundedTaskColumns,
  PLAIN_TASK_COLUMNS_SQL,
  taskColumns,
} from './bounded-columns.ts';
import { TASK_TEXT_LENGTHS_SQL } from './button-sets.ts';
import { blockStart, rangeWindow } from './task-windows.ts';

/**
 * The task listing and the task reads by mj_id on bun:sqlite (synchronous; the SQLite task store
 * and the listing workers call them).
 */

/**
 * How the page query is bounded: not at all, to an id window (time ranges), through the time
 * index and a top-k sort (time ranges whose id window is mostly other rows), or below an id (deep pages).
 */
type Variant = 'plain' | 'window' | 'scan' | 'below';

function whereOf(f: TaskFilter, variant: Variant): SQL | undefined {
  const parts: SQL[] = [];
  // With an mj_id the page is read through (mj_id) (a row or two), the owner and channel terms
  // filters only (`+`): left open, the planner may walk all of a user's rows in id order instead.
  const narrow = f.mjId !== undefined;
  if (f.userId !== undefined)
    parts.push(
      narrow ? sql`+${tasks.userId} = ${sql.placeholder('userId')}` : eq(tasks.userId, sql.placeholder('userId')),
    );
  if (f.channelId !== undefined)
    parts.push(
      narrow
        ? sql`+${tasks.channelId} = ${sql.placeholder('channelId')}`
        : eq(tasks.channelId, sql.placeholder('channelId')),
    );
  if (f.mjId !== undefined) parts.push(eq(tasks.mjId, sql.placeholder('mjId')));
  if (f.status !== undefined) parts.push(eq(tasks.status, sql.placeholder('status')));
  // Says what the partial status and action indexes need to hear (src/db/schema/tasks.ts).
  if (f.status === 'SUCCESS' || f.status === 'FAILURE') parts.push(sql`${tasks.status} IN ('SUCCESS', 'FAILURE')`);
  if (f.action !== undefined && f.action !== 'IMAGINE') parts.push(sql`${tasks.action} <> 'IMAGINE'`);
  if (f.action !== undefined) parts.push(eq(tasks.action, sql.placeholder('action')));
  // In the id window the time terms are filters only (`+`): the page walks ids, not times.
  const time = variant === 'window' ? sql`+${tasks.submitTime}` : sql`${tasks.submitTime}`;
  if (f.start !== undefined) parts.push(sql`${time} >= ${sql.placeholder('start')}`);
  if (f.end !== undefined) parts.push(sql`${time} <= ${sql.placeholder('end')}`);
  if (variant === 'window') parts.push(gte(tasks.id, sql.placeholder('lo')), lte(tasks.id, sql.placeholder('hi')));
  if (variant === 'below') parts.push(lt(tasks.id, sql.placeholder('below')));
  return parts.length ? and(...parts) : undefined;
}

function shapeKey(f: TaskFilter, variant: Variant): string {
  const status = f.status === undefined ? '0' : f.status === 'SUCCESS' || f.status === 'FAILURE' ? 'f' : 'o';
  const action = f.action === undefined ? '0' : f.action === 'IMAGINE' ? 'i' : '1';
  const rest = [f.userId, f.channelId, f.mjId, f.start, f.end].map((v) => (v === undefined ? '0' : '1'));
  return `${variant}${rest.join('')}${status}${action}`;
}

/** Every column of `tasks` named by its TaskRow key, long text cut by SQLite (see bounded-columns.ts). */
const PAGE_COLUMNS = BOUNDED_TASK_COLUMNS_SQL;

/**
 * Whether any row holds a text longer than a listing shows: one probe of the (normally empty)
 * partial index tasks_oversize_idx. Cutting every text in SQL was a third of a page's cost.
 */
export const ANY_OVERSIZE_SQL = `SELECT EXISTS (SELECT 1 FROM tasks WHERE ${TASK_OVERSIZE_SQL}) AS big`;
function anyOversize(db: DB): boolean {
  return prepared<{ big: number }>(db, ANY_OVERSIZE_SQL).get()!.big === 1;
}

function buildQueries(db: DB, f: TaskFilter, variant: Variant) {
  // Page through an index for ids first, then read only the rows of the page: skipped entries
  // cost an index step, not a row read.
  // `+id` keeps a scan off the id index, so it reads the range through its time index.
  const ids = db
    .select({ id: tasks.id })
    .from(tasks)
    .where(whereOf(f, variant))
    .orderBy(variant === 'scan' ? sql`+${tasks.id} desc` : desc(tasks.id))
    .limit(sql.placeholder('limit'))
    .offset(sql.placeholder('offset'))
    .toSQL();
  const page = {
    sql: `SELECT ${PAGE_COLUMNS} FROM tasks WHERE id IN (${ids.sql}) ORDER BY id DESC`,
    params: ids.params,
  };
  // A first page skips nothing, so the rows are read straight off the same walk (no id list).
  // Not for a scan, whose top-k sort would then carry whole rows.
  const head = 'select "id" from "tasks"';
  if (!ids.sql.startsWith(head)) throw new Error('unexpected listing SQL');
  const first =
    variant === 'scan'
      ? null
      : { sql: `SELECT ${PAGE_COLUMNS} FROM tasks${ids.sql.slice(head.length)}`, params: ids.params };
  const counted = db.select({ n: sql<number>`count(*)` }).from(tasks).where(whereOf(f, 'plain'));
  return { page, first, counted };
}

/** The uncut twin of a page statement (see anyOversize). */
const uncut = (text: string) => text.replace(`SELECT ${PAGE_COLUMNS} FROM`, `SELECT ${PLAIN_TASK_COLUMNS_SQL} FROM`);

function buildStatements(db: DB, f: TaskFilter, variant: Variant) {
  const q = buildQueries(db, f, variant);
  const names = q.page.params.map((p) => {
    if (!(p instanceof Placeholder)) throw new Error('listing SQL takes placeholders only');
    return p.name;
  });
  const cut = prepared<TaskRow>(db, q.page.sql);
  const plain = prepared<TaskRow>(db, uncut(q.page.sql));
  const firstCut = q.first ? prepared<TaskRow>(db, q.first.sql) : cut;
  const firstPlain = q.first ? prepared<TaskRow>(db, uncut(q.first.sql)) : plain;
  // The page SQL is Drizzle's, run as a plain prepared statement whose rows are TaskRows as read:
  // Drizzle's generic row mapping was a fifth of a listing request's CPU.
  const page = (params: Record<string, unknown>): TaskRow[] => {
    const big = anyOversize(db);
    const stmt = params.offset === 0 ? (big ? firstCut : firstPlain) : big ? cut : plain;
    return stmt.all(...(names.map((n) => params[n]) as never[]));
  };
  return { page, counted: q.counted.prepare() };
}

/** The variant a filter's page runs with at this offset (a time range's may become a scan). */
function variantOf(plan: TotalPlan, offset: number): Variant {
  if (plan.kind === 'range') return 'window';
  return plan.kind === 'scope' && offset >= DEEP_OFFSET ? 'below' : 'plain';
}

/** The SQL a filter shape's page runs (with named placeholders), for EXPLAIN QUERY PLAN checks. */
export function listingSql(
  db: DB,
  f: TaskFilter,
  offset = 0,
  range: 'window' | 'scan' = 'window',
): {
  variant: Variant;
  page: { sql: string; params: unknown[] };
  first: { sql: string; params: unknown[] } | null;
  count: { sql: string; params: unknown[] };
} {
  let variant = variantOf(planTotal(f), offset);
  if (variant === 'window') variant = range;
  const q = buildQueries(db, f, variant);
  return { variant, page: q.page, first: q.first, count: q.counted.toSQL() };
}

type Statements = ReturnType<typeof buildStatements>;
const statementCache = new WeakMap<DB, Map<string, Statements>>();

function statementsFor(db: DB, f: TaskFilter, variant: Variant): Statements {
  let byShape = statementCache.get(db);
  if (!byShape) statementCache.set(db, (byShape = new Map()));
  const key = shapeKey(f, variant);
  let s = byShape.get(key);
  if (!s) byShape.set(key, (s = buildStatements(db, f, variant)));
  return s;
}

function filterTotal(db: DB, c: FilterCount): number {
  const row = prepared<{ n: number }>(db, FILTER_COUNT_SQL).get(c.owner, c.ownerId, c.status, c.action);
  return Math.max(0, row?.n ?? 0);
}

function counterOf(db: DB, s: Scope): number {
  const row = prepared<{ n: number }>(
    db,
    'SELECT count AS n FROM task_counters WHERE scope = ?1 AND scope_id = ?2',
  ).get(s.scope, s.scopeId);
  return Math.max(0, row?.n ?? 0);
}

/** A time range's id window holding this many times its matches is read through the time index instead. */
const SCAN_FACTOR = 4;

/**
 * Walking the id window costs up to the scope's rows in it; scanning the range costs its total.
 * Rows appended in time order make the window hold little else; rows written out of time order
 * widen it, and then the scan is the bounded choice.
 */
function rangeStrategyOf(db: DB, scope: Scope, total: number, windowIds: number): 'window' | 'scan' {
  let windowRows = windowIds;
  if (scope.scope !== 'all') {
    // The scope's share of all rows, read from both counters in one statement.
    const row = prepared<{ mine: number | null; all: number | null }>(
      db,
      `SELECT
      (SELECT count FROM task_counters WHERE scope = ?1 AND scope_id = ?2) AS mine,
      (SELECT count FROM task_counters WHERE scope = 'all' AND scope_id = 0) AS "all"`,
    ).get(scope.scope, scope.scopeId);
    const all = row?.all ?? 0;
    windowRows = all > 0 ? windowIds * ((row?.mine ?? 0) / all) : 0;
  }
  return windowRows > SCAN_FACTOR * total ? 'scan' : 'window';
}

function rangeReadOf(
  db: DB,
  scope: Scope,
  f: TaskFilter,
): { total: number; lo: number; hi: number; strategy: 'window' | 'scan' } {
  const w = rangeWindow(db, scope, f.start, f.end);
  if (w.total === 0 || w.lo === null || w.hi === null) return { total: 0, lo: 0, hi: -1, strategy: 'window' };
  return { total: w.total, lo: w.lo, hi: w.hi, strategy: rangeStrategyOf(db, scope, w.total, w.hi - w.lo + 1) };
}

/** How listTasks reads a filter's time range (null: the filter has none, or no counters fit it). */
export function timeRangeRead(db: DB, f: TaskFilter): { total: number; strategy: 'window' | 'scan' } | null {
  const plan = planTotal(f);
  if (plan.kind !== 'range') return null;
  const { total, strategy } = rangeReadOf(db, plan.scope, f);
  return { total, strategy };
}

/**
 * One page of tasks, newest first (`id` descending), with the exact total of the filter. The
 * total of a scope comes from the trigger-maintained counters, of a time range from the hour/day
 * buckets; an mj_id filter is narrow and counts through its index.
 */
export function listTasks(
  db: DB,
  f: TaskFilter,
  paging: { p?: number | undefined; page_size?: number | undefined },
  /** Tests force one way of reading a time range; both return the same rows. */
  rangeStrategy?: 'window' | 'scan',
): Page<TaskRow> {
  const { page, pageSize, offset } = pageOf(paging);
  const params: Record<string, unknown> = { limit: pageSize, offset };
  // The filter's values bind by their own names (the placeholders of the listing SQL).
  for (const [key, value] of Object.entries(f)) if (value !== undefined) params[key] = value;
  const plan = planTotal(f);
  let variant: Variant = plan.kind === 'range' ? 'window' : 'plain';
  let total: number;
  if (plan.kind === 'counted') {
    total = filterTotal(db, plan.count);
  } else if (plan.kind === 'rows') {
    total = statementsFor(db, f, 'plain').counted.get(params)?.n ?? 0;
  } else if (plan.kind === 'range') {
    const r = rangeReadOf(db, plan.scope, f);
    total = r.total;
    params.lo = r.lo;
    params.hi = r.hi;
    if (total > 0) variant = rangeStrategy ?? r.strategy;
  } else {
    total = counterOf(db, plan.scope);
    const start = startsFromBlock(plan, offset, total) ? blockStart(db, plan.scope, offset) : null;
    if (start) {
      variant = 'below';
      params.below = start.below;
      params.offset = start.offset;
    }
  }
  const items = offset >= total ? [] : statementsFor(db, f, variant).page(params);
  return { items, total, page, page_size: pageSize };
}

/** The owner as a filter only, so a read by mj_id goes through (mj_id), not all of a user's rows. */
const OWNER_FILTER = (userId: unknown): SQL => sql`+${tasks.userId} = ${userId}`;

function buildByMjId(db: DB) {
  const newest = (where: SQL | undefined) =>
    db.select(taskColumns).from(tasks).where(where).orderBy(desc(tasks.id)).limit(1).prepare();
  return {
    any: newest(eq(tasks.mjId, sql.placeholder('mjId'))),
    own: newest(and(OWNER_FILTER(sql.placeholder('userId')), eq(tasks.mjId, sql.placeholder('mjId')))),
  };
}
const byMjId = perConnection(buildByMjId);

/** The newest task with this upstream id, of one user (or of anyone when userId is null). */
export function findTaskByMjId(db: DB, mjId: string, userId: number | null): TaskRow | null {
  const s = byMjId(db);
  return (userId === null ? s.any.get({ mjId }) : s.own.get({ userId, mjId })) ?? null;
}

function buildReads(db: DB) {
  return {
    byId: db
      .select(taskColumns)
      .from(tasks)
      .where(eq(tasks.id, sql.placeholder('id')))
      .prepare(),
    image: db
      .select({ status: tasks.status, imageUrl: tasks.imageUrl })
      .from(tasks)
      .where(eq(tasks.mjId, sql.placeholder('mjId')))
      .orderBy(desc(tasks.id))
      .limit(1)
      .prepare(),
  };
}
const reads = perConnection(buildReads);

/** One task by its local id. */
export function taskById(db: DB, id: number): TaskRow | null {
  return reads(db).byId.get({ id }) ?? null;
}

/** The image forwarder's read: status and stored image link of the newest task with this mj_id (any user). */
export function imageTaskOf(db: DB, mjId: string): { status: string; imageUrl: string } | null {
  return reads(db).image.get({ mjId }) ?? null;
}

/** See TaskReads.ownByMjIdsSize: the newest row of each id counts, as list-by-condition answers it. */
export function ownTasksByMjIdsSize(db: DB, userId: number, mjIds: readonly string[], itemCap: number): number {
  if (mjIds.length === 0) return 0;
  const row = prepared<{ bytes: number }>(
    db,
    `SELECT coalesce(sum(${itemBytesAtLeastSql(Math.floor(itemCap))}), 0) AS bytes
    FROM (SELECT ${TASK_TEXT_LENGTHS_SQL} FROM tasks WHERE id IN (
      SELECT max(id) FROM tasks WHERE +user_id = ?1 AND mj_id IN (SELECT value FROM json_each(?2)) GROUP BY mj_id))`,
  ).get(userId, JSON.stringify(mjIds));
  return row?.bytes ?? 0;
}

/** The SQL of the reads by id and mj_id above (and of list-by-condition for two ids), for EXPLAIN QUERY PLAN checks. */
export function taskReadsSql(
  db: DB,
): Record<'byMjId' | 'ownByMjId' | 'image' | 'byId' | 'ownByMjIds', { sql: string; params: unknown[] }> {
  const m = buildByMjId(db);
  const r = buildReads(db);
  const own = db
    .select(boundedTaskColumns)
    .from(tasks)
    .where(and(OWNER_FILTER(7), inArray(tasks.mjId, ['a', 'b'])))
    .orderBy(asc(tasks.id));
  const of = (q: { getQuery(): { sql: string; params: unknown[] } }) => q.getQuery();
  return { byMjId: of(m.any), ownByMjId: of(m.own), image: of(r.image), byId: of(r.byId), ownByMjIds: own.toSQL() };
}

/**
 * A user's tasks among these upstream ids (list-by-condition), oldest first, long text cut as a
 * listing cuts it. The caller bounds the id list (the relay's schema allows at most 500).
 */
export function ownTasksByMjIds(db: DB, userId: number, mjIds: readonly string[]): TaskRow[] {
  if (mjIds.length === 0) return [];
  return db
    .select(boundedTaskColumns)
    .from(tasks)
    .where(and(OWNER_FILTER(userId), inArray(tasks.mjId, [...mjIds])))
    .orderBy(asc(tasks.id))
    .all();
}
