import { and, desc, eq, gte, inArray, lte, sql, type SQL } from 'drizzle-orm';
import type { DB } from '../db/client.ts';
import { taskCounters, tasks, type TaskRow } from '../db/schema/index.ts';
import { boundedTaskColumns } from './bounded-columns.ts';
import { boundTaskItem } from './bounds.ts';
import { pageOf, type Page } from './pagination.ts';
import { toMillis, type AllTaskQuery, type SelfTaskQuery } from './task-query.ts';

/** A task as `GET /api/mj/self` shows it (SPEC §6.1), in the documented key order. */
export interface TaskItem {
  id: number;
  mj_id: string;
  action: string;
  prompt: string;
  prompt_en: string;
  status: string;
  progress: string;
  image_url: string;
  video_url: string;
  video_urls: string;
  submit_time: number;
  start_time: number;
  finish_time: number;
  fail_reason: string;
  quota: number;
  code: number;
  description: string;
  state: string;
  buttons: string;
  properties: string;
}

/** The admin view adds who owns the task and where it ran (SPEC §6.2). */
export interface AdminTaskItem extends TaskItem {
  user_id: number;
  channel_id: number;
}

/** How image links are shown: through the gateway (`/mj/image/<mj_id>`) or as stored. */
export interface ImageLinkPolicy {
  forward: boolean;
  serverAddress: string;
}

export function forwardedImageUrl(row: Pick<TaskRow, 'imageUrl' | 'mjId'>, policy: ImageLinkPolicy): string {
  if (!row.imageUrl) return '';
  return policy.forward ? `${policy.serverAddress}/mj/image/${row.mjId}` : row.imageUrl;
}

export function taskItem(row: TaskRow, policy: ImageLinkPolicy): TaskItem {
  return boundTaskItem({
    id: row.id, mj_id: row.mjId, action: row.action, prompt: row.prompt, prompt_en: row.promptEn,
    status: row.status, progress: row.progress, image_url: forwardedImageUrl(row, policy),
    video_url: row.videoUrl, video_urls: row.videoUrls, submit_time: row.submitTime,
    start_time: row.startTime, finish_time: row.finishTime, fail_reason: row.failReason, quota: row.quota,
    code: row.code, description: row.description, state: row.state, buttons: row.buttons, properties: row.properties,
  });
}

export function adminTaskItem(row: TaskRow, policy: ImageLinkPolicy): AdminTaskItem {
  const { id, ...rest } = taskItem(row, policy);
  return { id, user_id: row.userId, channel_id: row.channelId, ...rest };
}

export interface TaskFilter {
  userId?: number | undefined;
  channelId?: number | undefined;
  mjId?: string | undefined;
  start?: number | undefined;
  end?: number | undefined;
}

export function selfFilter(userId: number, q: SelfTaskQuery): TaskFilter {
  return {
    userId, mjId: q.mj_id,
    start: q.start_timestamp === undefined ? undefined : toMillis(q.start_timestamp),
    end: q.end_timestamp === undefined ? undefined : toMillis(q.end_timestamp),
  };
}

export function allFilter(q: AllTaskQuery): TaskFilter {
  return { ...selfFilter(0, q), userId: undefined, channelId: q.channel_id };
}

function whereOf(f: TaskFilter): SQL | undefined {
  const parts: SQL[] = [];
  if (f.userId !== undefined) parts.push(eq(tasks.userId, sql.placeholder('userId')));
  if (f.channelId !== undefined) parts.push(eq(tasks.channelId, sql.placeholder('channelId')));
  if (f.mjId !== undefined) parts.push(eq(tasks.mjId, sql.placeholder('mjId')));
  if (f.start !== undefined) parts.push(gte(tasks.submitTime, sql.placeholder('start')));
  if (f.end !== undefined) parts.push(lte(tasks.submitTime, sql.placeholder('end')));
  return parts.length ? and(...parts) : undefined;
}

function shapeKey(f: TaskFilter): string {
  return [f.userId, f.channelId, f.mjId, f.start, f.end].map((v) => (v === undefined ? '0' : '1')).join('');
}

function buildQueries(db: DB, f: TaskFilter) {
  const where = whereOf(f);
  // Page through the covering index for ids first, then read only the rows of the page: deep
  // pages skip index entries instead of whole rows.
  // A time range alone would tempt SQLite to walk the whole table in id order and filter (a
  // full scan when the range is old); `+id` keeps the order off the rowid so it reads the range
  // through the submit_time index and keeps only the top of the page.
  const rangeOnly = (f.start !== undefined || f.end !== undefined) && f.userId === undefined
    && f.channelId === undefined && f.mjId === undefined;
  const ids = db.select({ id: tasks.id }).from(tasks).where(where)
    .orderBy(rangeOnly ? sql`+${tasks.id} desc` : desc(tasks.id))
    .limit(sql.placeholder('limit')).offset(sql.placeholder('offset'));
  const page = db.select(boundedTaskColumns).from(tasks).where(inArray(tasks.id, ids)).orderBy(desc(tasks.id));
  const counted = db.select({ n: sql<number>`count(*)` }).from(tasks).where(where);
  return { page, counted };
}

function buildStatements(db: DB, f: TaskFilter) {
  const q = buildQueries(db, f);
  return { page: q.page.prepare(), counted: q.counted.prepare() };
}

/** The SQL a filter shape runs (with named placeholders), for EXPLAIN QUERY PLAN checks. */
export function listingSql(db: DB, f: TaskFilter): { page: { sql: string; params: unknown[] }; count: { sql: string; params: unknown[] } } {
  const q = buildQueries(db, f);
  return { page: q.page.toSQL(), count: q.counted.toSQL() };
}

type Statements = ReturnType<typeof buildStatements>;
const statementCache = new WeakMap<DB, Map<string, Statements>>();

function statementsFor(db: DB, f: TaskFilter): Statements {
  let byShape = statementCache.get(db);
  if (!byShape) statementCache.set(db, (byShape = new Map()));
  const key = shapeKey(f);
  let s = byShape.get(key);
  if (!s) byShape.set(key, (s = buildStatements(db, f)));
  return s;
}

/**
 * Total rows of a filter. The common shapes (everything, one user, one channel) read the
 * trigger-maintained counters; narrower filters count through their index.
 */
function totalOf(db: DB, f: TaskFilter, s: Statements, params: Record<string, unknown>): number {
  const narrow = f.mjId !== undefined || f.start !== undefined || f.end !== undefined;
  if (!narrow && !(f.userId !== undefined && f.channelId !== undefined)) {
    const [scope, scopeId] = f.userId !== undefined ? ['user', f.userId] : f.channelId !== undefined ? ['channel', f.channelId] : ['all', 0];
    const row = db.select({ n: taskCounters.count }).from(taskCounters)
      .where(and(eq(taskCounters.scope, scope as string), eq(taskCounters.scopeId, scopeId as number))).get();
    return Math.max(0, row?.n ?? 0);
  }
  return s.counted.get(params)?.n ?? 0;
}

/** One page of tasks, newest first (`id` descending), with the exact total of the filter. */
export function listTasks(db: DB, f: TaskFilter, paging: { p?: number | undefined; page_size?: number | undefined }): Page<TaskRow> {
  const { page, pageSize, offset } = pageOf(paging);
  const s = statementsFor(db, f);
  const params: Record<string, unknown> = {};
  if (f.userId !== undefined) params.userId = f.userId;
  if (f.channelId !== undefined) params.channelId = f.channelId;
  if (f.mjId !== undefined) params.mjId = f.mjId;
  if (f.start !== undefined) params.start = f.start;
  if (f.end !== undefined) params.end = f.end;
  const total = totalOf(db, f, s, params);
  const items = offset >= total ? [] : s.page.all({ ...params, limit: pageSize, offset });
  return { items, total, page, page_size: pageSize };
}

/** The newest task with this upstream id, of one user (or of anyone when userId is null). */
export function findTaskByMjId(db: DB, mjId: string, userId: number | null): TaskRow | null {
  const where = userId === null ? eq(tasks.mjId, mjId) : and(eq(tasks.userId, userId), eq(tasks.mjId, mjId));
  return db.select().from(tasks).where(where).orderBy(desc(tasks.id)).limit(1).get() ?? null;
}
