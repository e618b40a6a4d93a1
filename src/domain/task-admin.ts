import type { ManagementStore } from '../contract/index.ts';
import type { TaskRow } from '../contract/rows.ts';
import type { TaskLogRow } from '../contract/task-admin.ts';
import type { TaskStore } from '../contract/tasks.ts';
import type { Clock } from '../lib/clock.ts';
import type { Metrics } from '../lib/metrics.ts';
import { callUpstream } from '../upstream/http.ts';
import { modelNameOf } from './actions.ts';
import { channelEndpoints } from './channels.ts';
import { AppError } from './errors.ts';
import type { TaskFeed } from './task-feed.ts';
import { applyPollBatch, endStrandedTasks, planTick, type SyncSettings } from './task-sync.ts';
import { webhookPayloadOf } from './webhooks.ts';

/**
 * Reconciliation by an admin and the money timeline (SPEC §16). `resync` asks the task's channel
 * now and applies the answer exactly as a poller tick would (task-sync.ts: planTick, then
 * endStrandedTasks or applyPollBatch); `fail` ends an unfinished task through the refund's
 * compare-and-set, so it is refunded exactly once whoever else ends it at the same moment.
 */

export interface TaskAdminEnv {
  store: Pick<ManagementStore, 'channels'>;
  taskStore: Pick<TaskStore, 'tasks' | 'sync' | 'admin'>;
  clock: Clock;
  fetch: typeof fetch;
  taskFeed: Pick<TaskFeed, 'publish'>;
  metrics?: Pick<Metrics, 'quotaRefunded' | 'timeUpstream'>;
  settings: SyncSettings;
  upstreamTimeoutMs: number;
}

/** Poll calls never wait longer than this (the poller's bound). */
const MAX_POLL_TIMEOUT_MS = 15_000;

/** The most characters of an admin's failure reason. */
export const MAX_FAIL_REASON_CHARS = 1000;

const isFinished = (row: Pick<TaskRow, 'progress'>) => row.progress === '100%';

async function taskOf(env: TaskAdminEnv, mjId: string): Promise<TaskRow> {
  const row = await env.taskStore.tasks.findByMjId(mjId, null);
  if (!row) throw new AppError('NOT_FOUND', `task ${mjId} not found`);
  return row;
}

/**
 * `admin.task.resync`: fetch the task from its channel now and apply it as the poller would (a
 * task of a deleted channel is ended as a tick ends it). Returns the task as now stored; a channel
 * that does not answer is UPSTREAM (timeouts still applied, as a tick applies them).
 */
export async function resyncTask(env: TaskAdminEnv, mjId: string): Promise<TaskRow> {
  const row = await taskOf(env, mjId);
  if (isFinished(row)) return row;
  const rows = (await env.taskStore.admin.channelTasks(row.channelId, row.mjId)).filter(
    (r) => r.id === row.id && !isFinished(r),
  );
  const now = env.clock.now();
  const plan = planTick(rows, await channelEndpoints(env.store), now, env.settings);
  let changed: number[] = [];
  let refunded = 0;
  let failure: string | null = null;
  if (plan.stranded.length > 0) {
    const ended = await endStrandedTasks(
      env.taskStore.sync,
      plan.stranded,
      now,
      env.settings.webhookLinks,
      env.settings.warn,
    );
    changed = ended.ended.map((e) => e.taskId);
    refunded = ended.refundedQuota;
  }
  const group = plan.byChannel.get(row.channelId);
  if (group) {
    const call = () =>
      callUpstream(env.fetch, group.channel, {
        method: 'POST',
        path: '/mj/task/list-by-condition',
        body: { ids: [row.mjId] },
        timeoutMs: Math.min(MAX_POLL_TIMEOUT_MS, env.upstreamTimeoutMs),
      });
    const outcome = await (env.metrics ? env.metrics.timeUpstream(group.channel.id, 'poll', call) : call());
    let items: unknown[] | null = null;
    if (outcome.kind === 'response' && outcome.status === 200 && Array.isArray(outcome.json)) items = outcome.json;
    else
      failure =
        outcome.kind === 'response'
          ? `upstream answered HTTP ${outcome.status}`
          : `upstream call failed: ${outcome.kind}`;
    const counts = await applyPollBatch(env.taskStore.sync, group.rows, items, env.clock.now(), env.settings);
    changed = counts.changed;
    refunded = counts.refundedQuota;
  }
  env.taskFeed.publish(changed);
  if (refunded > 0) env.metrics?.quotaRefunded(refunded);
  if (failure !== null && changed.length === 0)
    throw new AppError('UPSTREAM', `resync of ${mjId}: ${failure}`, 'upstream_unavailable');
  return (await env.taskStore.tasks.byId(row.id)) ?? row;
}

/**
 * `admin.task.fail`: end an unfinished task as FAILURE 100% with the admin's reason, refunding what
 * it holds exactly once (the refund row names the reason and the admin). A finished task, or one
 * another writer ends first, is BAD_REQUEST `task_finished`.
 */
export async function failTask(env: TaskAdminEnv, mjId: string, reason: string, adminId: number): Promise<TaskRow> {
  const row = await taskOf(env, mjId);
  if (isFinished(row)) throw new AppError('BAD_REQUEST', 'task_finished', 'task_finished');
  const now = env.clock.now();
  const r = await env.taskStore.admin.adminFail(
    row.id,
    row.quota,
    { status: 'FAILURE', progress: '100%', failReason: reason, finishTime: now },
    now,
    modelNameOf(row.action),
    `refund: ${reason} (failed by admin ${adminId})`,
    webhookPayloadOf(now, env.settings.webhookLinks),
  );
  if (!r.won) throw new AppError('BAD_REQUEST', 'task_finished', 'task_finished');
  env.taskFeed.publish([row.id]);
  if (r.refunded > 0) env.metrics?.quotaRefunded(r.refunded);
  return (await env.taskStore.tasks.byId(row.id)) ?? row;
}

export type LedgerKind = 'charge' | 'move' | 'refund' | 'adjust';

export interface LedgerItem {
  time: number;
  kind: LedgerKind;
  quota: number;
  channel_id: number;
  note: string;
}

const LOG_CONSUME = 2;
const LOG_SYSTEM = 4;
const LOG_REFUND = 6;

/** One log row of a task as a timeline entry. */
function ledgerItemOf(log: TaskLogRow): LedgerItem {
  const base = { time: log.createdTime, quota: log.quota, channel_id: log.channelId };
  if (log.type === LOG_CONSUME) return { ...base, kind: 'charge', note: log.content };
  if (log.type === LOG_REFUND) return { ...base, kind: 'refund', note: log.content.replace(/^refund: /, '') };
  if (log.type === LOG_SYSTEM && log.content.startsWith('moved from channel '))
    return { ...base, kind: 'move', note: log.content };
  return { ...base, kind: 'adjust', note: log.content };
}

/**
 * `mj.ledger`: the money timeline of one task (own task; admins any), oldest first, from the logs;
 * Σ charge − Σ refund is the task's quota.
 */
export async function ledgerOf(
  env: Pick<TaskAdminEnv, 'taskStore'>,
  mjId: string,
  userId: number | null,
): Promise<{ items: LedgerItem[] }> {
  const row = await env.taskStore.tasks.findByMjId(mjId, userId);
  if (!row) throw new AppError('NOT_FOUND', `task ${mjId} not found`);
  return { items: (await env.taskStore.admin.taskLogs(row.id)).map(ledgerItemOf) };
}
