import type { ManagementStore } from '../../contract/management.ts';
import type { TaskStore } from '../../contract/tasks.ts';
import type { Clock } from '../../lib/clock.ts';
import type { Logger } from '../../lib/logger.ts';
import type { Metrics } from '../../lib/metrics.ts';
import type { OptionsStore } from '../options.ts';
import type { TaskFeed } from '../task-feed.ts';
import type { UpstreamHooks } from '../upstream-push.ts';

/**
 * What the relay domain needs from the outside, as plain values: the edge builds it from the app
 * dependencies, so this folder never sees a request object or a framework type.
 */
export interface RelayEnv {
  /** Channels and keys (the management side of the store). */
  store: Pick<ManagementStore, 'channels' | 'tokens'>;
  taskStore: TaskStore;
  options: OptionsStore;
  clock: Clock;
  /** fetch used for upstream calls (the real one in production). */
  fetch: typeof fetch;
  logger: Logger;
  /** The app's metrics; optional so an edge that builds its own env still works (then nothing is counted). */
  metrics?: Metrics;
  /** Timeout of submit calls (`UPSTREAM_TIMEOUT_MS`). */
  upstreamTimeoutMs: number;
  /** More channels a new job may try (`SUBMIT_FAILOVER`); unset = the default 2. */
  submitFailover?: number;
  /** Submits per key per minute for keys that set none (`RELAY_RATE_LIMIT_PER_MINUTE`); unset or 0 = none. */
  defaultRateLimitPerMinute?: number;
  /** Public base URL of the gateway, for forwarded image links. */
  serverAddress: () => string;
  /** Where the submit flow announces the task rows it writes. */
  taskFeed: TaskFeed;
  /** The gateway's own notifyHook for forwarded jobs (SPEC §16); unset = none. */
  upstreamHooks?: UpstreamHooks;
}

/** The authenticated relay caller, reduced to what billing needs. */
export interface RelayCallerInfo {
  userId: number;
  tokenId: number;
  /** Unlimited keys are not decremented (only their used_quota grows). */
  unlimitedToken: boolean;
  /** The key's own submits-per-minute limit; 0 or unset = the env default. */
  rateLimitPerMinute?: number;
}

/** A relay answer: HTTP status and the JSON body, in the midjourney-proxy shape. */
export interface RelayAnswer {
  status: number;
  body: unknown;
  /** The local task a submit recorded (accepted or refused upstream). */
  taskId?: number;
}
