import type { ManagementStore } from '../../contract/management.ts';
import type { TaskStore } from '../../contract/tasks.ts';
import type { Clock } from '../../lib/clock.ts';
import type { Logger } from '../../lib/logger.ts';
import type { Metrics } from '../../lib/metrics.ts';
import type { OptionsStore } from '../options.ts';
import type { TaskFeed } from '../task-feed.ts';
import { notifySecretsOf, upstreamHooks } from '../upstream-push.ts';
import type { RelayEnv } from './types.ts';

/** The parts of the app's dependencies the relay environment is built from (AppDeps has them all). */
export interface RelayEnvSource {
  store: Pick<ManagementStore, 'channels' | 'tokens' | 'options'>;
  taskStore: TaskStore;
  options: OptionsStore;
  clock: Clock;
  fetch: typeof fetch;
  logger: Logger;
  metrics: Metrics;
  serverAddress: () => string;
  taskFeed: TaskFeed;
  config: {
    upstreamTimeoutMs: number;
    submitFailover?: number;
    relayRateLimitPerMinute?: number;
    upstreamNotifyBaseUrl?: string | null;
  };
}

/**
 * The relay's environment: the one builder of the relay routes and of `mj.submit`, so both run the
 * same flow (failover, rate limits, metrics, feed, upstream push).
 */
export function relayEnvOf(deps: RelayEnvSource): RelayEnv {
  return {
    store: deps.store,
    taskStore: deps.taskStore,
    options: deps.options,
    clock: deps.clock,
    fetch: deps.fetch,
    logger: deps.logger,
    metrics: deps.metrics,
    upstreamTimeoutMs: deps.config.upstreamTimeoutMs,
    submitFailover: deps.config.submitFailover,
    defaultRateLimitPerMinute: deps.config.relayRateLimitPerMinute,
    serverAddress: deps.serverAddress,
    taskFeed: deps.taskFeed,
    upstreamHooks: upstreamHooks(
      deps.options,
      notifySecretsOf(deps.store.options),
      () => deps.config.upstreamNotifyBaseUrl ?? deps.serverAddress(),
    ),
  };
}
