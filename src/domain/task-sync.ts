import { and, eq, sql } from 'drizzle-orm';
import type { DB } from '../db/client.ts';
import { tasks, type TaskRow } from '../db/schema/index.ts';
import type { DbLike } from '../db/types.ts';
import { modelNameOf } from './actions.ts';
import { failAndRefund, type RefundResult } from '../db/sqlite/money.ts';
import type { ChannelEndpoint } from './channels.ts';
import {
  channelGoneReason, decideSync, failureFields, isTimedOut, ORPHAN_GRACE_MS, parseUpstreamTask, SUBMIT_DID_NOT_COMPLETE,
  timeoutReason, type SyncFields,
} from './task-sync-normalise.ts';
import { enqueueTaskChange, type LinkPolicySource } from './webhooks.ts';

/**
 * The database side of the poller (SPEC §8): find unfinished tasks, and write what one
 * `list-by-condition` batch says in one synchronous transaction. Every ending goes through
 * `failAndRefund`, whose compare-and-set makes a refund happen exactly once whatever runs twice.
 */

/** An unfinished task as the poller reads it. */
export type PollTask = TaskRow;

/** What the poller needs to know about a channel. */
export type PollChannel = ChannelEndpoint;

export interface SyncSettings {
  taskTimeoutMs: number;
  upstreamTimeoutMs: number;
  /** Image links of webhook payloads (SPEC §15); raw upstream links when absent. */
  webhookLinks?: LinkPolicySource;
}

/** Counts of what one write step did, for logs and tests. */
export interface SyncCounts {
  updated: number;
  succeeded: number;
  failed: number;
  timedOut: number;
  refunded: number;
  /** Quota given back by those refunds. */
  refundedQuota: number;
  /** Items the upstream returned that match none of the batch's tasks. */
  unknown: number;
  /** Items that were not a valid task object. */
  invalid: number;
}

export function emptyCounts(): SyncCounts {
  return { updated: 0, succeeded: 0, failed: 0, timedOut: 0, refunded: 0, refundedQuota: 0, unknown: 0, invalid: 0 };
}

const COUNT_KEYS = Object.keys(emptyCounts()) as (keyof SyncCounts)[];

export function addCounts<T extends SyncCounts>(into: T, more: SyncCounts): T {
  for (const k of COUNT_KEYS) into[k] += more[k];
  return into;
}

/**
 * Every unfinished task, by channel then id. The condition is written exactly as the partial
 * index `tasks_unfinished_idx` is declared, so SQLite reads the index instead of the table's
 * finished millions.
 */
export function unfinishedTasksQuery(db: DB) {
  return db.select().from(tasks).where(sql`progress <> '100%'`).orderBy(tasks.channelId, tasks.id);
}

export function selectUnfinishedTasks(db: DB): TaskRow[] {
  return unfinishedTasksQuery(db).all();
}

/** The unfinished tasks split into what needs the upstream and what is ended locally. */
export interface TickPlan {
  /** Rows ended without asking any upstream (orphaned submits, deleted channels), with the reason. */
  stranded: Array<{ row: TaskRow; reason: string }>;
  /** Rows to poll, per existing channel, in id order. */
  byChannel: Map<number, { channel: PollChannel; rows: TaskRow[] }>;
  /** Rows without an upstream id whose submit may still be in flight: left alone this tick. */
  waiting: number;
}

/**
 * Sorts unfinished rows: an empty mj_id is a submit still in flight (left alone) or an orphan of a
 * crash between charge and upstream answer (ended once older than the upstream timeout plus a
 * grace, refunding whatever quota the row still holds); a row of a deleted channel is ended with
 * `channel <id> no longer exists`; the rest is polled.
 */
export function planTick(rows: readonly TaskRow[], known: ReadonlyMap<number, PollChannel>, now: number, s: SyncSettings): TickPlan {
  const plan: TickPlan = { stranded: [], byChannel: new Map(), waiting: 0 };
  for (const row of rows) {
    if (row.mjId === '') {
      // Measured from the last write of the submit (a failover move restarts it), not from the
      // submit time: a submit that fails over makes one upstream call per channel.
      const inFlightSince = Math.max(row.submitTime, row.updatedTime);
      if (now - inFlightSince >= s.upstreamTimeoutMs + ORPHAN_GRACE_MS) plan.stranded.push({ row, reason: SUBMIT_DID_NOT_COMPLETE });
      else plan.waiting++;
      continue;
    }
    const channel = known.get(row.channelId);
    if (!channel) {
      plan.stranded.push({ row, reason: channelGoneReason(row.channelId) });
      continue;
    }
    let group = plan.byChannel.get(channel.id);
    if (!group) plan.byChannel.set(channel.id, (group = { channel, rows: [] }));
    group.rows.push(row);
  }
  return plan;
}

/** The failure ending of one row (and its refund), through the single compare-and-set refund path. */
function endAsFailure(tx: DbLike, row: TaskRow, fields: SyncFields, now: number, counts: SyncCounts): RefundResult {
  const result = failAndRefund(tx, row.id, row.quota, { ...fields }, now, modelNameOf(row.action));
  if (!result.won) return result;
  counts.failed++;
  if (result.refunded > 0) counts.refunded++;
  counts.refundedQuota += result.refunded;
  return result;
}

/** A stranded row this call ended (it won the compare-and-set), for the poller's log. */
export interface StrandedEnding {
  taskId: number;
  userId: number;
  reason: string;
  /** Quota given back (0 for a row that was never charged). */
  refunded: number;
  /** True for a submit orphaned by a crash (empty mj_id past the upstream timeout). */
  orphan: boolean;
}

/** Ends stranded rows (see planTick) in one transaction. */
export function endStrandedTasks(
  db: DB, stranded: TickPlan['stranded'], now: number, webhookLinks?: LinkPolicySource,
): SyncCounts & { ended: StrandedEnding[] } {
  const counts = emptyCounts();
  const ended: StrandedEnding[] = [];
  if (stranded.length === 0) return { ...counts, ended };
  db.transaction((tx) => {
    for (const { row, reason } of stranded) {
      const r = endAsFailure(tx, row, failureFields(row, reason, now), now, counts);
      if (r.won) ended.push({ taskId: row.id, userId: row.userId, reason, refunded: r.refunded, orphan: reason === SUBMIT_DID_NOT_COMPLETE });
    }
    enqueueTaskChange(tx, ended.map((e) => e.taskId), now, webhookLinks);
  }, { behavior: 'immediate' });
  return { ...counts, ended };
}

type UpdateStatement = ReturnType<typeof buildUpdate>;
const updateCache = new WeakMap<DB, UpdateStatement>();

function buildUpdate(db: DB) {
  const p = (name: string) => sql`${sql.placeholder(name)}`;
  return db.update(tasks).set({
    progress: p('progress'), status: p('status'), promptEn: p('promptEn'), state: p('state'), startTime: p('startTime'),
    finishTime: p('finishTime'), imageUrl: p('imageUrl'), videoUrl: p('videoUrl'), videoUrls: p('videoUrls'),
    failReason: p('failReason'), buttons: p('buttons'), properties: p('properties'), updatedTime: p('now'),
  }).where(and(eq(tasks.id, sql.placeholder('id')), sql`progress <> '100%'`)).returning({ id: tasks.id }).prepare();
}

function updateStatement(db: DB): UpdateStatement {
  let s = updateCache.get(db);
  if (!s) updateCache.set(db, (s = buildUpdate(db)));
  return s;
}

/**
 * Writes what the upstream answered for one batch of a channel's tasks, in ONE synchronous
 * transaction: changed fields are written (never onto a row another writer already finished),
 * failures and timeouts end the task and refund it once. `items` is null when the upstream could
 * not be asked or answered nonsense; timeouts are still applied then, since a task must end
 * whether or not its upstream still knows it.
 */
export function applyPollBatch(db: DB, rows: readonly TaskRow[], items: readonly unknown[] | null, now: number, s: SyncSettings): SyncCounts {
  const counts = emptyCounts();
  const byMjId = new Map<string, TaskRow[]>();
  for (const row of rows) {
    const list = byMjId.get(row.mjId);
    if (list) list.push(row);
    else byMjId.set(row.mjId, [row]);
  }
  type Op = { row: TaskRow; kind: 'update' | 'fail'; fields: SyncFields; timedOut: boolean };
  const ops: Op[] = [];
  const seen = new Set<number>();
  for (const raw of items ?? []) {
    const parsed = parseUpstreamTask(raw);
    if (!parsed.ok) {
      counts.invalid++;
      continue;
    }
    const matches = byMjId.get(parsed.task.id);
    if (!matches) {
      counts.unknown++;
      continue;
    }
    for (const row of matches) {
      if (seen.has(row.id)) continue;
      seen.add(row.id);
      const d = decideSync(row, parsed.task, now);
      const finished = d.kind === 'fail' || (d.kind === 'update' && d.fields.progress === '100%');
      if (!finished && isTimedOut(row, now, s.taskTimeoutMs)) {
        const base = d.kind === 'update' ? { ...row, ...d.fields } : row;
        ops.push({ row, kind: 'fail', fields: failureFields(base, timeoutReason(s.taskTimeoutMs), now), timedOut: true });
      } else if (d.kind !== 'unchanged') {
        ops.push({ row, kind: d.kind, fields: d.fields, timedOut: false });
      }
    }
  }
  for (const row of rows) {
    if (!seen.has(row.id) && isTimedOut(row, now, s.taskTimeoutMs)) {
      ops.push({ row, kind: 'fail', fields: failureFields(row, timeoutReason(s.taskTimeoutMs), now), timedOut: true });
    }
  }
  if (ops.length === 0) return counts;
  const update = updateStatement(db);
  db.transaction((tx) => {
    const changed: number[] = [];
    for (const op of ops) {
      if (op.kind === 'fail') {
        const before = counts.failed;
        if (endAsFailure(tx, op.row, op.fields, now, counts).won) changed.push(op.row.id);
        if (op.timedOut && counts.failed > before) counts.timedOut++;
        continue;
      }
      if (update.get({ ...op.fields, now, id: op.row.id })) {
        changed.push(op.row.id);
        counts.updated++;
        if (op.fields.progress === '100%') counts.succeeded++;
      }
    }
    enqueueTaskChange(tx, changed, now, s.webhookLinks);
  }, { behavior: 'immediate' });
  return counts;
}
