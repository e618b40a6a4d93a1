import type { Config } from './config.ts';
import type { Store } from './contract/index.ts';
import type { ListingExecutor } from './contract/listing.ts';
import type { TaskStore } from './contract/tasks.ts';
import type { DatabaseKind, PollerRole } from './domain/lease.ts';
import type { OptionsStore } from './domain/options.ts';
import type { TaskFeed } from './domain/task-feed.ts';
import type { ImageStore } from './images/store.ts';
import type { Clock } from './lib/clock.ts';
import type { Logger } from './lib/logger.ts';
import type { Metrics } from './lib/metrics.ts';

/**
 * Everything the app needs from outside, passed in by the composition root (src/index.ts) or by
 * a test: no module reads the environment or opens the database by itself.
 */
export interface AppDeps {
  /** The storage the domain needs (management side), over SQLite or PostgreSQL. */
  store: Store;
  /** Which backend the stores run on, as `/api/status` reports it; set by whoever opened the database. */
  database: DatabaseKind;
  /** Whether the database answers now (`/healthz` 503 otherwise); unset = always (an embedded file). */
  databaseHealthy?: () => Promise<boolean>;
  config: Config;
  /** The tasks side of storage (listings, task reads, money, sync, outbox, lease), over the same database. */
  taskStore: TaskStore;
  /** Where task listings run: worker threads (READ_WORKERS) or this thread; whoever builds it closes it. */
  listing: ListingExecutor;
  logger: Logger;
  /** This instance's metrics registry (never prom-client's global one). */
  metrics: Metrics;
  clock: Clock;
  options: OptionsStore;
  /** Public base URL for image links; a function because PORT=0 is only known after listen. */
  serverAddress: () => string;
  /** fetch used for upstream calls (the real one in production). */
  fetch: typeof fetch;
  /** This process's poller role right now; a function because the poller is built after the app. */
  pollerRole: () => PollerRole;
  /** Final images of SUCCESS tasks (SPEC §9); null = none; unset = the folder IMAGE_CACHE_* names. */
  imageStore?: ImageStore | null;
  /** Live task changes: the relay and the poller publish, `mj.onTaskUpdate` subscribes. */
  taskFeed: TaskFeed;
  startedAt: number;
  version: string;
}
