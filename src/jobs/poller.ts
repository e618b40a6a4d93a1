import type { AppDeps } from '../deps.ts';
import { channelEndpoints } from '../domain/channels.ts';
import { isDatabaseUnavailable } from '../domain/errors.ts';
import { type LeaseStore, POLLER_LEASE, type PollerRole } from '../domain/lease.ts';
import {
  addCounts,
  applyPollBatch,
  emptyCounts,
  endStrandedTasks,
  type PollChannel,
  type PollTask,
  planTick,
  type SyncCounts,
  type SyncSettings,
  type TickPlan,
  unfinishedPages,
} from '../domain/task-sync.ts';
import { createWarnOnce } from '../domain/upstream-numbers.ts';
import { createMetrics } from '../lib/metrics.ts';
import { callUpstream } from '../upstream/http.ts';
import { mapBounded } from './bounded.ts';
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
export type PollerDeps = Pick<AppDeps, 'store' | 'logger' | 'clock' | 'fetch'> & {
  taskStore: Pick<AppDeps['taskStore'], 'sync'>;
} & Partial<Pick<AppDeps, 'metrics' | 'taskFeed' | 'options' | 'serverAddress'>> & {
    config: Pick<AppDeps['config'], 'pollIntervalMs' | 'pollBatchSize' | 'taskTimeoutMs' | 'upstreamTimeoutMs'> &
      Partial<Pick<AppDeps['config'], 'pollLeaseMs'>>;
    /**
     * Leadership among processes sharing the database; without one, a started poller always
     * leads (a single process, or a test).
     */
    lease?: LeaseStore;
    /** Work of the leader besides polling, asked on each tick it leads (the daily retention pass). */
    leaderWork?: { maybeRun(): void };
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

/**
 * A macrotask turn: requests and other I/O waiting on the event loop are served before the tick
 * goes on (an upstream that answers at once would otherwise chain every batch in microtasks).
 */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

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
 * The background poller (SPEC §8). One tick at a time: for each channel that has unfinished tasks
 * (found and read through the partial index), its tasks are walked by keyset pages of one upstream
 * batch each: stranded ones ended locally, the rest asked for with `list-by-condition` (channels
 * concurrently, a channel's batches in order). Each batch is written in one short synchronous
 * transaction as soon as it arrives, and the event loop is served between batches, so a tick costs
 * the same per task at any backlog, holds one page per channel in memory, and never keeps a
 * request waiting for long. A slow channel delays nobody else, and a channel that stops answering
 * is skipped for the rest of the tick.
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
    taskTimeoutMs: deps.config.taskTimeoutMs,
    upstreamTimeoutMs: deps.config.upstreamTimeoutMs,
    warn: createWarnOnce(logger),
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
  const leadership: Leadership | null = deps.lease
    ? createLeadership({
        store: deps.lease,
        name: POLLER_LEASE,
        holder: opts.holder ?? crypto.randomUUID(),
        ttlMs: leaseMs,
        // The tick timer renews too; a timer of its own is needed only when ticks come too rarely.
        renewEveryMs: leaseMs / 3 < intervalMs ? leaseMs / 3 : null,
        clock: deps.clock,
        logger,
        // A new leader polls at once rather than at its next interval.
        onGained: () => {
          if (started) void launch();
          if (started) deps.leaderWork?.maybeRun();
        },
        // Another process may be polling already: stop waiting on upstream calls.
        onLost: () => abort?.abort(),
      })
    : null;

  /**
   * Batch writes take turns, each in an event-loop turn of its own: answers of several channels
   * that arrive together are written one per turn, so a request that arrived meanwhile waits for
   * one batch at most, never for every channel's.
   */
  let writes: Promise<void> = Promise.resolve();
  function writeTurn(): Promise<void> {
    const turn = writes.then(nextTurn);
    writes = turn;
    return turn;
  }

  /** Ends a page's stranded rows (orphaned submits, deleted channels) in one transaction. */
  async function endStranded(stranded: TickPlan['stranded'], report: TickReport): Promise<void> {
    await writeTurn();
    const ended = await endStrandedTasks(
      deps.taskStore.sync,
      stranded,
      deps.clock.now(),
      settings.webhookLinks,
      settings.warn,
    );
    addCounts(report, ended);
    for (const e of ended.ended) {
      // A crash between charge and upstream answer: the operator should see each one.
      const msg = e.orphan ? 'orphaned submit failed and refunded' : 'task of a deleted channel failed and refunded';
      logger.warn(msg, { taskId: e.taskId, userId: e.userId, refunded: e.refunded, reason: e.reason });
    }
    // Each ending won its compare-and-set: a change, published without reading it back.
    deps.taskFeed?.publishWritten(ended.ended.map((e) => ({ id: e.taskId, userId: e.userId })));
  }

  /**
   * Asks the upstream about one batch and writes the answer (one transaction); returns whether the
   * channel is still worth asking this tick.
   */
  async function pollBatch(
    channel: PollChannel,
    batch: PollTask[],
    reachable: boolean,
    signal: AbortSignal,
    report: TickReport,
  ): Promise<boolean> {
    let items: unknown[] | null = null;
    if (reachable && !signal.aborted) {
      const ids = [...new Set(batch.map((r) => r.mjId))];
      const outcome = await metrics.timeUpstream(channel.id, 'poll', () =>
        callUpstream(deps.fetch, channel, {
          method: 'POST',
          path: '/mj/task/list-by-condition',
          body: { ids },
          timeoutMs: pollTimeoutMs,
          signal,
        }),
      );
      if (outcome.kind === 'response' && outcome.status === 200 && Array.isArray(outcome.json)) {
        items = outcome.json;
      } else {
        report.channelErrors++;
        if (outcome.kind === 'response') {
          logger.warn('poll answer refused', {
            channelId: channel.id,
            status: outcome.status,
            reason: outcome.status !== 200 ? 'status is not 200' : 'body is not a JSON array',
            batch: ids.length,
          });
        } else if (!signal.aborted) {
          // A channel that does not answer would only burn the timeout again for each batch.
          reachable = false;
          logger.warn('poll call failed', {
            channelId: channel.id,
            error: outcome.kind === 'timeout' ? `timeout after ${pollTimeoutMs} ms` : outcome.message,
            batch: ids.length,
          });
        }
      }
    }
    // A tick cancelled (stop, or the lease lost to another process) writes nothing more: what it
    // read may be older than what the new leader writes.
    if (signal.aborted) return reachable;
    // Written even without items: timeouts end tasks whether or not the upstream answers. Planned
    // at once, written in a turn of its own (the two halves of the work never in one turn).
    try {
      const counts = await applyPollBatch(deps.taskStore.sync, batch, items, deps.clock.now(), settings, async () => {
        await writeTurn();
        return !signal.aborted;
      });
      // Only the rows this batch wrote, each a change (its write moved updated_time): the feed
      // records them as they are, without reading a fingerprint back per row.
      deps.taskFeed?.publishWritten(counts.written);
      if (counts.unknown || counts.invalid) {
        logger.warn('poll answer had unusable items', {
          channelId: channel.id,
          unknown: counts.unknown,
          invalid: counts.invalid,
        });
      }
      addCounts(report, counts);
    } catch (err) {
      if (isDatabaseUnavailable(err)) throw err;
      logger.error('poll batch write failed', {
        channelId: channel.id,
        error: err instanceof Error ? err : String(err),
      });
    }
    return reachable;
  }

  /**
   * One channel's unfinished tasks, one keyset page (= one upstream batch) at a time: stranded
   * rows ended, the rest polled, each batch written in its own short transaction, then the event
   * loop served (requests, other channels' answers) before the next page is read.
   */
  async function pollChannel(
    channelId: number,
    known: ReadonlyMap<number, PollChannel>,
    signal: AbortSignal,
    report: TickReport,
  ): Promise<void> {
    let reachable = true;
    let polled = false;
    for await (const page of unfinishedPages(deps.taskStore.sync, channelId, batchSize)) {
      if (signal.aborted) return;
      report.unfinished += page.length;
      const plan = planTick(page, known, deps.clock.now(), settings);
      if (plan.stranded.length > 0) await endStranded(plan.stranded, report);
      const group = plan.byChannel.get(channelId);
      if (group && !signal.aborted) {
        if (!polled) report.channels++;
        polled = true;
        reachable = await pollBatch(group.channel, group.rows, reachable, signal, report);
      }
      await nextTurn();
    }
  }

  async function tick(): Promise<TickReport> {
    const started = performance.now();
    const report: TickReport = { ...emptyCounts(), unfinished: 0, channels: 0, channelErrors: 0, durationMs: 0 };
    const controller = new AbortController();
    abort = controller;
    try {
      const channelIds = await deps.taskStore.sync.unfinishedChannels();
      if (channelIds.length === 0) return report;
      // All channels, any status: tasks of a disabled channel are still polled.
      const known = await channelEndpoints(deps.store);
      await mapBounded(channelIds, concurrency, async (channelId) => {
        try {
          await pollChannel(channelId, known, controller.signal, report);
        } catch (err) {
          // The database away: the tick's one warn line below, not an error per channel.
          if (isDatabaseUnavailable(err)) throw err;
          report.channelErrors++;
          logger.error('poll of channel failed', { channelId, error: err instanceof Error ? err : String(err) });
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
    if (started) deps.leaderWork?.maybeRun();
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
