import type { AppDeps } from '../deps.ts';
import {
  addCounts, applyPollBatch, emptyCounts, endStrandedTasks, planTick,
  type PollChannel, type PollTask, type SyncCounts, type SyncSettings,
} from '../domain/task-sync.ts';
import { channelEndpoints } from '../domain/channels.ts';
import { createWarnOnce } from '../domain/upstream-numbers.ts';
import { isDatabaseUnavailable } from '../domain/errors.ts';
import { callUpstream } from '../upstream/http.ts';
import { createMetrics } from '../lib/metrics.ts';
import { mapBounded } from './bounded.ts';
import { POLLER_LEASE, type LeaseStore, type PollerRole } from '../domain/lease.ts';
import { createLeadership, type Leadership } from './leadership.ts';

export interface Poller {
  /**
   * Runs a tick now and then every `pollIntervalMs`; calling it twice does nothing more. With a
   * lease store, each tick first takes or renews the lease and is skipped unless this process leads.
   */
  start(): void;
  /**
   * Clears the interval, cancels in-flight upstream calls, waits for the running tick, then
   * releases the lease so another process takes over at once.
   */
  stop(): Promise<void>;
  /** One full tick (after the running one, if any), whoever leads: what tests drive. */
  runOnce(): Promise<TickReport>;
  /** `off` until started (and after stop); `leader` or `standby` while started. */
  role(): PollerRole;
}

/** What the poller needs; AppDeps fits, and a test may pass its own db handle or clock. */
export type PollerDeps = Pick<AppDeps, 'store' | 'logger' | 'clock' | 'fetch'> & { taskStore: Pick<AppDeps['taskStore'], 'sync'> } & Partial<Pick<AppDeps, 'metrics' | 'taskFeed' | 'options' | 'serverAddress'>> & {
  config: Pick<AppDeps['config'], 'pollIntervalMs' | 'pollBatchSize' | 'taskTimeoutMs' | 'upstreamTimeoutMs'>
    & Partial<Pick<AppDeps['config'], 'pollLeaseMs'>>;
  /**
   * Leadership among processes sharing the database; without one, a started poller always
   * leads (a single process, or a test).
   */
  lease?: LeaseStore;
};

export interface PollerOptions {
  /** Channels polled at the same time; default 4. */
  concurrency?: number;
  /** Overrides config.pollIntervalMs. */
  intervalMs?: number;
  /** This process's name in the lease row; default a random UUID. */
  holder?: string;
}

const DEFAULT_LEASE_MS = 30_000;

/** Summary of one tick. */
export interface TickReport extends SyncCounts {
  unfinished: number;
  channels: number;
  /** Upstream calls that failed (transport, status or body); each is logged with its channel id. */
  channelErrors: number;
  durationMs: number;
}

/** Poll calls never wait longer than this, whatever the submit timeout (SPEC §3). */
const MAX_POLL_TIMEOUT_MS = 15_000;

/**
 * The background poller (SPEC §8). One tick at a time: unfinished tasks are read through the
 * partial index, stranded ones ended locally, and each channel asked for its tasks with
 * `list-by-condition` in batches (channels concurrently, a channel's batches in order). Each
 * batch is written in one synchronous transaction as soon as it arrives, so a slow channel
 * delays nobody else, and a channel that stops answering is skipped for the rest of the tick.
 */
export function createPoller(deps: PollerDeps, opts: PollerOptions = {}): Poller {
  const logger = deps.logger.child({ component: 'poller' });
  // A poller built without the app's registry still measures, into one nobody scrapes.
  const metrics = deps.metrics ?? createMetrics();
  const concurrency = Math.max(1, opts.concurrency ?? 4);
  const intervalMs = opts.intervalMs ?? deps.config.pollIntervalMs;
  const pollTimeoutMs = Math.min(MAX_POLL_TIMEOUT_MS, deps.config.upstreamTimeoutMs);
  const { options, serverAddress } = deps;
  const settings: SyncSettings = {
    taskTimeoutMs: deps.config.taskTimeoutMs, upstreamTimeoutMs: deps.config.upstreamTimeoutMs, warn: createWarnOnce(logger),
    // Webhook payloads show image links as fetch would at the time of the change.
    ...(options && serverAddress
      ? { webhookLinks: () => ({ forward: options.get('mj_forward_url_enabled'), serverAddress: serverAddress() }) }
      : {}),
  };
  const batchSize = Math.max(1, deps.config.pollBatchSize);
  let timer: ReturnType<typeof setInterval> | null = null;
  let running: Promise<TickReport> | null = null;
  let abort: AbortController | null = null;
  let started = false;
  const leaseMs = deps.config.pollLeaseMs ?? DEFAULT_LEASE_MS;
  const leadership: Leadership | null = deps.lease ? createLeadership({
    store: deps.lease, name: POLLER_LEASE, holder: opts.holder ?? crypto.randomUUID(), ttlMs: leaseMs,
    // The tick timer renews too; a timer of its own is needed only when ticks come too rarely.
    renewEveryMs: leaseMs / 3 < intervalMs ? leaseMs / 3 : null,
    clock: deps.clock, logger,
    // A new leader polls at once rather than at its next interval.
    onGained: () => {
      if (started) void launch();
    },
    // Another process may be polling already: stop waiting on upstream calls.
    onLost: () => abort?.abort(),
  }) : null;

  async function pollChannel(channel: PollChannel, rows: PollTask[], signal: AbortSignal, report: TickReport): Promise<void> {
    let reachable = true;
    for (let i = 0; i < rows.length; i += batchSize) {
      const batch = rows.slice(i, i + batchSize);
      let items: unknown[] | null = null;
      if (reachable && !signal.aborted) {
        const ids = [...new Set(batch.map((r) => r.mjId))];
        const outcome = await metrics.timeUpstream(channel.id, 'poll', () => callUpstream(deps.fetch, channel, {
          method: 'POST', path: '/mj/task/list-by-condition', body: { ids }, timeoutMs: pollTimeoutMs, signal,
        }));
        if (outcome.kind === 'response' && outcome.status === 200 && Array.isArray(outcome.json)) {
          items = outcome.json;
        } else {
          report.channelErrors++;
          if (outcome.kind === 'response') {
            logger.warn('poll answer refused', {
              channelId: channel.id, status: outcome.status,
              reason: outcome.status !== 200 ? 'status is not 200' : 'body is not a JSON array', batch: ids.length,
            });
          } else if (!signal.aborted) {
            // A channel that does not answer would only burn the timeout again for each batch.
            reachable = false;
            logger.warn('poll call failed', {
              channelId: channel.id, error: outcome.kind === 'timeout' ? `timeout after ${pollTimeoutMs} ms` : outcome.message,
              batch: ids.length,
            });
          }
        }
      }
      // A tick cancelled (stop, or the lease lost to another process) writes nothing more: what it
      // read may be older than what the new leader writes.
      if (signal.aborted) return;
      // Written even without items: timeouts end tasks whether or not the upstream answers.
      try {
        const counts = await applyPollBatch(deps.taskStore.sync, batch, items, deps.clock.now(), settings);
        deps.taskFeed?.publish(batch.map((r) => r.id));
        if (counts.unknown || counts.invalid) {
          logger.warn('poll answer had unusable items', { channelId: channel.id, unknown: counts.unknown, invalid: counts.invalid });
        }
        addCounts(report, counts);
      } catch (err) {
        logger.error('poll batch write failed', { channelId: channel.id, error: err instanceof Error ? err : String(err) });
      }
    }
  }

  async function tick(): Promise<TickReport> {
    const started = performance.now();
    const report: TickReport = { ...emptyCounts(), unfinished: 0, channels: 0, channelErrors: 0, durationMs: 0 };
    const controller = new AbortController();
    abort = controller;
    try {
      const rows = await deps.taskStore.sync.unfinished();
      report.unfinished = rows.length;
      if (rows.length === 0) return report;
      // All channels, any status: tasks of a disabled channel are still polled.
      const plan = planTick(rows, await channelEndpoints(deps.store), deps.clock.now(), settings);
      const stranded = await endStrandedTasks(deps.taskStore.sync, plan.stranded, deps.clock.now(), settings.webhookLinks, settings.warn);
      addCounts(report, stranded);
      for (const e of stranded.ended) {
        // A crash between charge and upstream answer: the operator should see each one.
        const msg = e.orphan ? 'orphaned submit failed and refunded' : 'task of a deleted channel failed and refunded';
        logger.warn(msg, { taskId: e.taskId, userId: e.userId, refunded: e.refunded, reason: e.reason });
      }
      deps.taskFeed?.publish(plan.stranded.map((s) => s.row.id));
      report.channels = plan.byChannel.size;
      await mapBounded([...plan.byChannel.values()], concurrency, async ({ channel, rows: channelRows }) => {
        try {
          await pollChannel(channel, channelRows, controller.signal, report);
        } catch (err) {
          report.channelErrors++;
          logger.error('poll of channel failed', { channelId: channel.id, error: err instanceof Error ? err : String(err) });
        }
      });
    } catch (err) {
      // An outage is expected and retried next time: one warn line, not an error per tick.
      if (isDatabaseUnavailable(err)) logger.warn('poll tick failed: database unavailable');
      else logger.error('poll tick failed', { error: err instanceof Error ? err : String(err) });
    } finally {
      if (abort === controller) abort = null;
      report.durationMs = Math.round((performance.now() - started) * 10) / 10;
    }
    metrics.pollTick(report.durationMs);
    metrics.quotaRefunded(report.refundedQuota);
    if (report.updated || report.failed || report.channelErrors) {
      logger.info('poll tick', { ...report });
    } else {
      logger.debug('poll tick', { ...report });
    }
    return report;
  }

  /** Starts a tick unless one is running; returns the running one either way. */
  function launch(): Promise<TickReport> {
    if (running) return running;
    const p = tick().finally(() => {
      if (running === p) running = null;
    });
    running = p;
    return p;
  }

  /** A scheduled tick: take or renew the lease first (even while a long tick runs), skip unless leading. */
  async function scheduled(): Promise<void> {
    if (leadership && !(await leadership.refresh())) return;
    if (started) void launch();
  }

  return {
    start() {
      if (timer) return;
      started = true;
      leadership?.start();
      void scheduled();
      timer = setInterval(() => void scheduled(), intervalMs);
      timer.unref?.();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = null;
      started = false;
      abort?.abort();
      if (running) await running;
      // After the tick, so the next leader never overlaps with it.
      await leadership?.stop();
    },
    async runOnce() {
      if (running) await running;
      return launch();
    },
    role() {
      if (!started) return 'off';
      if (!leadership) return 'leader';
      return leadership.isLeader() ? 'leader' : 'standby';
    },
  };
}
