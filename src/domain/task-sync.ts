import type { PayloadOf, PollRow, SyncOp, SyncOpResult, TaskStore } from '../contract/tasks.ts';
import { modelNameOf } from './actions.ts';
import type { ChannelEndpoint } from './channels.ts';
import type { WrittenTask } from './task-feed-types.ts';
import {
  channelGoneReason,
  decideSync,
  failureFields,
  isTimedOut,
  ORPHAN_GRACE_MS,
  parseUpstreamTask,
  SUBMIT_DID_NOT_COMPLETE,
  SYNC_FIELD_NAMES,
  type SyncFields,
  timeoutReason,
} from './task-sync-normalise.ts';
import { previewValue, type WarnOnce, warnFellBack } from './upstream-numbers.ts';
import { type LinkPolicySource, webhookPayloadOf } from './webhooks.ts';

/**
 * The poller's sync rules (SPEC §8): which unfinished tasks to poll or end, and what one
 * `list-by-condition` batch means for each row, planned here as plain ops; the task store applies
 * a batch of ops in one transaction (every ending through the compare-and-set refund).
 */

/** The store the sync writes through. */
export type SyncStore = TaskStore['sync'];

/** An unfinished task as the poller reads it (the columns it compares, ends and refunds). */
export type PollTask = PollRow;

/** What the poller needs to know about a channel. */
export type PollChannel = ChannelEndpoint;

export interface SyncSettings {
  taskTimeoutMs: number;
  upstreamTimeoutMs: number;
  /** Image links of webhook payloads (SPEC §15); raw upstream links when absent. */
  webhookLinks?: LinkPolicySource;
  /** Warns of upstream values that fell back and rows the database refused, once per key. */
  warn?: WarnOnce;
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
  /** Upstream fields that did not fit their column and were stored as their fallback. */
  fellBack: number;
  /** Rows the database refused to write; the rest of their batch was written without them. */
  refusedRows: number;
}

export function emptyCounts(): SyncCounts {
  return {
    updated: 0,
    succeeded: 0,
    failed: 0,
    timedOut: 0,
    refunded: 0,
    refundedQuota: 0,
    unknown: 0,
    invalid: 0,
    fellBack: 0,
    refusedRows: 0,
  };
}

const COUNT_KEYS = Object.keys(emptyCounts()) as (keyof SyncCounts)[];

export function addCounts<T extends SyncCounts>(into: T, more: SyncCounts): T {
  for (const k of COUNT_KEYS) into[k] += more[k];
  return into;
}

/** The unfinished tasks split into what needs the upstream and what is ended locally. */
export interface TickPlan {
  /** Rows ended without asking any upstream (orphaned submits, deleted channels), with the reason. */
  stranded: Array<{ row: PollTask; reason: string }>;
  /** Rows to poll, per existing channel, in id order. */
  byChannel: Map<number, { channel: PollChannel; rows: PollTask[] }>;
  /** Rows without an upstream id whose submit may still be in flight: left alone this tick. */
  waiting: number;
}

/**
 * Sorts unfinished rows: an empty mj_id is a submit still in flight (left alone) or an orphan of a
 * crash between charge and upstream answer (ended once older than the upstream timeout plus a
 * grace, refunding whatever quota the row still holds); a row of a deleted channel is ended with
 * `channel <id> no longer exists`; the rest is polled.
 */
export function planTick(
  rows: readonly PollTask[],
  known: ReadonlyMap<number, PollChannel>,
  now: number,
  s: SyncSettings,
): TickPlan {
  const plan: TickPlan = { stranded: [], byChannel: new Map(), waiting: 0 };
  for (const row of rows) {
    if (row.mjId === '') {
      // Measured from the last write of the submit (a failover move restarts it), not from the
      // submit time: a submit that fails over makes one upstream call per channel.
      const inFlightSince = Math.max(row.submitTime, row.updatedTime);
      if (now - inFlightSince >= s.upstreamTimeoutMs + ORPHAN_GRACE_MS)
        plan.stranded.push({ row, reason: SUBMIT_DID_NOT_COMPLETE });
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

/** A failure ending of one row, as an op (its refund is the row's quota, once). */
function failOp(row: PollTask, fields: SyncFields): Extract<SyncOp, { kind: 'fail' }> {
  return {
    kind: 'fail',
    taskId: row.id,
    expectedQuota: row.quota,
    fields: { ...fields },
    modelName: modelNameOf(row.action),
  };
}

/** Count a failure ending that won. */
function countEnding(r: SyncOpResult, counts: SyncCounts): void {
  if (!r.won) return;
  counts.failed++;
  if (r.refunded > 0) counts.refunded++;
  counts.refundedQuota += r.refunded;
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

/**
 * `sync.apply`, counting and warning (once per task) about rows the database refused: the store
 * leaves such a row out alone, so the rest of the batch, its endings and refunds are written.
 */
async function applyOps(
  sync: SyncStore,
  ops: readonly SyncOp[],
  now: number,
  hook: PayloadOf,
  counts: SyncCounts,
  warn: WarnOnce | undefined,
): Promise<SyncOpResult[]> {
  const results = await sync.apply(ops, now, hook);
  results.forEach((r, k) => {
    if (r.refused === undefined) return;
    const op = ops[k]!;
    counts.refusedRows++;
    warn?.(
      `refused:${op.taskId}`,
      'poll write of one task refused by the database; the rest of its batch was written',
      {
        taskId: op.taskId,
        op: op.kind,
        error: previewValue(r.refused),
      },
    );
  });
  return results;
}

/** Ends stranded rows (see planTick) in one transaction. */
export async function endStrandedTasks(
  sync: SyncStore,
  stranded: TickPlan['stranded'],
  now: number,
  webhookLinks?: LinkPolicySource,
  warn?: WarnOnce,
): Promise<SyncCounts & { ended: StrandedEnding[] }> {
  const counts = emptyCounts();
  const ended: StrandedEnding[] = [];
  if (stranded.length === 0) return { ...counts, ended };
  const ops = stranded.map(({ row, reason }) => failOp(row, failureFields(row, reason, now)));
  const results = await applyOps(sync, ops, now, webhookPayloadOf(now, webhookLinks), counts, warn);
  results.forEach((r, k) => {
    const { row, reason } = stranded[k]!;
    countEnding(r, counts);
    if (r.won)
      ended.push({
        taskId: row.id,
        userId: row.userId,
        reason,
        refunded: r.refunded,
        orphan: reason === SUBMIT_DID_NOT_COMPLETE,
      });
  });
  return { ...counts, ended };
}

/**
 * Writes what the upstream answered for one batch of a channel's tasks, in ONE transaction of
 * the store: changed fields are written (never onto a row another writer already finished),
 * failures and timeouts end the task and refund it once; a row the database refuses is left out
 * alone, and every upstream value was brought into its column's range first (SPEC §10). `items` is null when the upstream could
 * not be asked or answered nonsense; timeouts are still applied then, since a task must end
 * whether or not its upstream still knows it.
 */
export async function applyPollBatch(
  sync: SyncStore,
  rows: readonly PollTask[],
  items: readonly unknown[] | null,
  now: number,
  s: SyncSettings,
  beforeWrite?: () => Promise<boolean>,
): Promise<SyncCounts & { changed: number[]; written: WrittenTask[] }> {
  const counts = { ...emptyCounts(), changed: [] as number[], written: [] as WrittenTask[] };
  const byMjId = new Map<string, PollTask[]>();
  for (const row of rows) {
    const list = byMjId.get(row.mjId);
    if (list) list.push(row);
    else byMjId.set(row.mjId, [row]);
  }
  type Op = { row: PollTask; kind: 'update' | 'fail'; fields: SyncFields; timedOut: boolean };
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
    for (const f of parsed.fellBack) {
      counts.fellBack++;
      warnFellBack(s.warn, matches[0]!.channelId, f.field, f.value, f.stored ?? '', { mjId: parsed.task.id });
    }
    for (const row of matches) {
      if (seen.has(row.id)) continue;
      seen.add(row.id);
      const d = decideSync(row, parsed.task, now);
      const finished = d.kind === 'fail' || (d.kind === 'update' && d.fields.progress === '100%');
      if (!finished && isTimedOut(row, now, s.taskTimeoutMs)) {
        const base = d.kind === 'update' ? { ...row, ...d.fields } : row;
        ops.push({
          row,
          kind: 'fail',
          fields: failureFields(base, timeoutReason(s.taskTimeoutMs), now),
          timedOut: true,
        });
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
  // The caller's moment to write (the poller hands the event loop back first); false: write nothing.
  if (beforeWrite && !(await beforeWrite())) return counts;
  // An update names the fields that moved since the row was read: only those are written.
  const storeOps = ops.map(
    (op): SyncOp =>
      op.kind === 'fail'
        ? failOp(op.row, op.fields)
        : {
            kind: 'update',
            taskId: op.row.id,
            fields: op.fields,
            columns: SYNC_FIELD_NAMES.filter((k) => op.row[k] !== op.fields[k]),
          },
  );
  const results = await applyOps(sync, storeOps, now, webhookPayloadOf(now, s.webhookLinks), counts, s.warn);
  results.forEach((r, k) => {
    const op = ops[k]!;
    if (r.won) {
      counts.changed.push(op.row.id);
      counts.written.push({ id: op.row.id, userId: op.row.userId });
    }
    if (op.kind === 'fail') {
      const before = counts.failed;
      countEnding(r, counts);
      if (op.timedOut && counts.failed > before) counts.timedOut++;
    } else if (r.won) {
      counts.updated++;
      if (op.fields.progress === '100%') counts.succeeded++;
    }
  });
  return counts;
}

/**
 * One channel's unfinished tasks, page after page by keyset (each page's last id starts the next),
 * so a tick holds one page at a time whatever the backlog. A task that finishes ahead of the walk
 * is not read; one inserted meanwhile with a higher id is.
 */
export async function* unfinishedPages(
  sync: SyncStore,
  channelId: number,
  pageSize: number,
): AsyncGenerator<PollTask[]> {
  let afterId = 0;
  for (;;) {
    const page = await sync.unfinishedPage(channelId, afterId, pageSize);
    if (page.length === 0) return;
    yield page;
    if (page.length < pageSize) return;
    afterId = page[page.length - 1]!.id;
  }
}
