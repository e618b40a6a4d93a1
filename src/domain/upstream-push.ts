import { createHmac, timingSafeEqual } from 'node:crypto';
import type { OptionRowStore } from '../contract/index.ts';
import type { PollRow, TaskStore } from '../contract/tasks.ts';
import type { Clock } from '../lib/clock.ts';
import { randomAlphanumeric } from '../lib/ids.ts';
import type { Logger } from '../lib/logger.ts';
import type { Metrics } from '../lib/metrics.ts';
import type { OptionsStore } from './options.ts';
import type { TaskFeed } from './task-feed.ts';
import { applyPollBatch, type SyncCounts, type SyncSettings } from './task-sync.ts';
import { parseUpstreamTask } from './task-sync-normalise.ts';
import { createWarnOnce } from './upstream-numbers.ts';

/**
 * Push from the upstream (SPEC §16). While `mj_upstream_notify_enabled` is on, every job the
 * gateway forwards carries its own hook `<base>/mj/notify/<channel_id>/<secret>`; the upstream
 * POSTs the task's JSON there at each change, and the change is applied exactly as the poller
 * applies a polled one (task-sync.ts applyPollBatch: normalisation, bounds, state rules,
 * compare-and-set, refund once, webhook outbox), so the poller stays the safety net.
 */

/** The options row that keeps the server secret the hook secrets derive from (not an option: never listed). */
export const NOTIFY_SECRET_ROW = 'upstream_notify_secret';

/** A callback body larger than this is refused (413). */
export const MAX_NOTIFY_BODY_BYTES = 1024 * 1024;

/**
 * The hook secrets: HMAC-SHA256 of the channel id under one server secret, kept in the database
 * (made once by whichever process needs it first), so every replica derives the same secret and
 * a rotated channel key changes nothing.
 */
export class NotifySecrets {
  private key: Promise<string> | null = null;

  constructor(private readonly rows: Pick<OptionRowStore, 'all' | 'insertMissing'>) {}

  private serverKey(): Promise<string> {
    this.key ??= (async () => {
      await this.rows.insertMissing([{ key: NOTIFY_SECRET_ROW, value: JSON.stringify(randomAlphanumeric(48)) }]);
      const row = (await this.rows.all()).find((r) => r.key === NOTIFY_SECRET_ROW);
      const value: unknown = row ? JSON.parse(row.value) : null;
      if (typeof value !== 'string' || value.length < 16)
        throw new Error(`options row ${NOTIFY_SECRET_ROW} is not a usable secret`);
      return value;
    })();
    // A failed read (the database away) is tried again by the next caller.
    this.key.catch(() => {
      this.key = null;
    });
    return this.key;
  }

  /** The secret of one channel's hook: 43 URL-safe characters. */
  async secretFor(channelId: number): Promise<string> {
    return createHmac('sha256', await this.serverKey())
      .update(`mj-notify:${channelId}`)
      .digest('base64url');
  }

  /** Whether `given` is the channel's secret (compared in constant time). */
  async verify(channelId: number, given: string): Promise<boolean> {
    const want = Buffer.from(await this.secretFor(channelId));
    const got = Buffer.from(given);
    return got.length === want.length && timingSafeEqual(got, want);
  }
}

const secretsByRows = new WeakMap<object, NotifySecrets>();

/** One NotifySecrets per option row store (so one database read per process). */
export function notifySecretsOf(rows: Pick<OptionRowStore, 'all' | 'insertMissing'>): NotifySecrets {
  let s = secretsByRows.get(rows);
  if (!s) secretsByRows.set(rows, (s = new NotifySecrets(rows)));
  return s;
}

/** Builds the hook a forwarded job carries, or says there is none (option off). */
export interface UpstreamHooks {
  /** The hook for a job forwarded to `channelId`; null while `mj_upstream_notify_enabled` is off. */
  hookFor(channelId: number): Promise<string | null>;
}

export function upstreamHooks(options: OptionsStore, secrets: NotifySecrets, baseUrl: () => string): UpstreamHooks {
  return {
    async hookFor(channelId) {
      if (!options.get('mj_upstream_notify_enabled')) return null;
      return `${baseUrl().replace(/\/+$/, '')}/mj/notify/${channelId}/${await secrets.secretFor(channelId)}`;
    },
  };
}

/** What applying a pushed task needs: the stores, the poller's sync settings, the feed. */
export interface PushEnv {
  taskStore: Pick<TaskStore, 'sync' | 'admin'>;
  clock: Clock;
  taskFeed: Pick<TaskFeed, 'publish'>;
  metrics?: Pick<Metrics, 'quotaRefunded'>;
  settings: SyncSettings;
}

export type PushOutcome =
  | { kind: 'invalid'; reason: string }
  | { kind: 'unknown_task' }
  /** The task was found: `counts` is what the write did (nothing for a finished task or an unchanged one). */
  | { kind: 'applied'; counts: SyncCounts & { changed: number[] } };

/** The poller's sync settings for a process (the same values the poller builds). */
export function syncSettingsOf(deps: {
  config: { taskTimeoutMs: number; upstreamTimeoutMs: number };
  logger: Logger;
  options: OptionsStore;
  serverAddress: () => string;
}): SyncSettings {
  return {
    taskTimeoutMs: deps.config.taskTimeoutMs,
    upstreamTimeoutMs: deps.config.upstreamTimeoutMs,
    warn: createWarnOnce(deps.logger),
    webhookLinks: () => ({ forward: deps.options.get('mj_forward_url_enabled'), serverAddress: deps.serverAddress() }),
  };
}

/**
 * Apply one pushed task JSON of channel `channelId` through the poller's own path. A finished task
 * never moves (its row is not among those applyPollBatch may write), a failure refunds once.
 */
export async function applyPushedTask(env: PushEnv, channelId: number, raw: unknown): Promise<PushOutcome> {
  const parsed = parseUpstreamTask(raw);
  if (!parsed.ok) return { kind: 'invalid', reason: parsed.reason };
  const rows = await env.taskStore.admin.channelTasks(channelId, parsed.task.id);
  if (rows.length === 0) return { kind: 'unknown_task' };
  const open: PollRow[] = rows.filter((r) => r.progress !== '100%');
  const counts = await applyPollBatch(env.taskStore.sync, open, [raw], env.clock.now(), env.settings);
  env.taskFeed.publish(counts.changed);
  if (counts.refundedQuota > 0) env.metrics?.quotaRefunded(counts.refundedQuota);
  return { kind: 'applied', counts };
}
