import type { Config } from './config.ts';
import type { Store } from './contract/index.ts';
import type { ListingExecutor } from './contract/listing.ts';
import type { TaskStore } from './contract/tasks.ts';
import { type DB, openDatabase } from './db/client.ts';
import { DatabaseUrlError, openPgDatabase, type PgDB } from './db/pg/client.ts';
import { isUnavailableError, pingDatabase } from './db/pg/health.ts';
import { onTaskChanges, taskNotesSent } from './db/pg/notify.ts';
import { createPgStore } from './db/pg/store.ts';
import { createPgFeedReads } from './db/pg/task-reads.ts';
import { createPgTaskStore } from './db/pg/task-store.ts';
import { startWalCheckpointer } from './db/sqlite/checkpointer.ts';
import { createSqliteFeedReads } from './db/sqlite/feed-reads.ts';
import { inThreadListing, isSharedFile, routedListing } from './db/sqlite/listing-executor.ts';
import { ListingPool, type ListingPoolOptions } from './db/sqlite/listing-pool.ts';
import { createSqliteStore } from './db/sqlite/store.ts';
import { createSqliteTaskStore } from './db/sqlite/task-store.ts';
import type { AppDeps } from './deps.ts';
import { guardAvailability } from './domain/availability.ts';
import { AppError, type AppErrorKind } from './domain/errors.ts';
import { renderListing } from './domain/listing-render.ts';
import type { OptionsStore } from './domain/options.ts';
import { changeWindowOf, InProcessTaskFeed, type TaskFeed } from './domain/task-feed.ts';
import type { ImageStore } from './images/store.ts';
import { createPoller, type Poller } from './jobs/poller.ts';
import { createRetentionSchedule, type RetentionSchedule } from './jobs/retention.ts';
import { createWebhookWorker, type WebhookWorker } from './jobs/webhooks.ts';
import type { Clock } from './lib/clock.ts';
import type { Logger } from './lib/logger.ts';
import { createMetrics } from './lib/metrics.ts';
import { feedEndingOn } from './shutdown.ts';

/**
 * The one place the gateway is assembled from its config (src/index.ts and the tests' server both
 * use it): which database, its stores, where listings run, the live feed, the poller and webhooks.
 */

interface BackendBase {
  store: Store;
  taskStore: TaskStore;
  listing: ListingExecutor;
  taskFeed: TaskFeed;
  /** Whether the database answers now (`/healthz`). */
  ping: () => Promise<boolean>;
  close: () => Promise<void>;
}

/** What the app runs on: the two stores, where listings run, the live feed, and how to close them. */
export type Backend = BackendBase & ({ kind: 'sqlite'; db: DB } | { kind: 'postgres'; db: PgDB });

export interface BackendOptions {
  /**
   * SQLite listings: as READ_WORKERS says (default: a worker pool when there is one and the file
   * is shared, this thread otherwise), always in this thread, or always on a pool of
   * max(1, READ_WORKERS) threads.
   */
  listing?: 'configured' | 'in-thread' | 'pool';
  /** SQLite: checkpoint the WAL on a thread of its own (default: when the file is shared). */
  checkpointer?: boolean;
}

/** SQLite's listings on this thread, rendering REST envelopes with the domain's renderListing. */
export function sqliteInThreadListing(db: DB): ListingExecutor {
  return inThreadListing(db, renderListing);
}

/** A pool of SQLite listing workers, rendering and failing as the domain does (db/ may not import it). */
export function sqliteListingPool(opts: Omit<ListingPoolOptions, 'renderModule' | 'errors'>): ListingPool {
  return new ListingPool({
    ...opts,
    renderModule: new URL('./domain/listing-render.ts', import.meta.url).href,
    errors: {
      busy: () => new AppError('UNAVAILABLE', 'too many listings in progress, retry shortly'),
      rebuild: (kind, message, code) => new AppError(kind as AppErrorKind, message, code),
    },
  });
}

function sqliteListing(db: DB, config: Config, logger: Logger, how: BackendOptions['listing']): ListingExecutor {
  const pool = (size: number) => sqliteListingPool({ path: config.databasePath, size, logger });
  if (how === 'in-thread') return sqliteInThreadListing(db);
  if (how === 'pool') return pool(Math.max(1, config.readWorkers));
  return config.readWorkers > 0 && isSharedFile(config.databasePath)
    ? routedListing(sqliteInThreadListing(db), pool(config.readWorkers))
    : sqliteInThreadListing(db);
}

function openSqliteBackend(config: Config, logger: Logger, clock: Clock, opts: BackendOptions): Backend {
  const db = openDatabase(config.databasePath);
  // Opened after the migrations above, so the workers' read-only connections see the final schema.
  const listing = sqliteListing(db, config, logger, opts.listing);
  // WAL checkpoints on a thread of their own, never inside a commit of the event loop's (issue 15).
  const checkpointer =
    (opts.checkpointer ?? true) && isSharedFile(config.databasePath)
      ? startWalCheckpointer(db, config.databasePath, { onError: (message) => logger.warn(message) })
      : null;
  return {
    kind: 'sqlite',
    db,
    store: createSqliteStore(db),
    taskStore: createSqliteTaskStore(db, listing),
    listing,
    taskFeed: new InProcessTaskFeed(createSqliteFeedReads(db), clock, { changeWindowMs: changeWindowOf(config) }),
    ping: async () => true,
    close: async () => {
      await checkpointer?.stop();
      await listing.close();
      db.$client.close();
    },
  };
}

/**
 * PostgreSQL (SPEC §13): migrated once under an advisory lock, a pool of DATABASE_POOL_SIZE, every
 * store method answering `database unavailable` (503) while the server cannot be reached. An
 * unusable URL stops start-up with one line naming DATABASE_URL (never its password), exit 2.
 */
async function openPgBackend(config: Config, url: string, logger: Logger, clock: Clock): Promise<Backend> {
  let pg: PgDB;
  try {
    pg = await openPgDatabase(url, { poolSize: config.databasePoolSize });
  } catch (err) {
    if (!(err instanceof DatabaseUrlError)) throw err;
    process.stderr.write(`invalid configuration: ${err.message}\n`);
    process.exit(2);
  }
  const taskStore = guardAvailability(createPgTaskStore(pg, renderListing), isUnavailableError);
  const listing: ListingExecutor = {
    list: taskStore.tasks.list,
    listJson: taskStore.tasks.listJson,
    close: async () => {},
  };
  // Live updates across replicas: the task store NOTIFYs the ids of every write (in its transaction,
  // or right after the commit on the submit path); each replica feeds what it hears (its own writes
  // included) to its local feed.
  const taskFeed = new InProcessTaskFeed(createPgFeedReads(pg), clock, { changeWindowMs: changeWindowOf(config) });
  const unlisten = await onTaskChanges(pg, (ids) => taskFeed.publish(ids), {
    onError: (err) =>
      logger.warn('task change listener failed', { error: err instanceof Error ? err.message : String(err) }),
  });
  // That echo is the one path: a writer's own publish would read the same rows a second time.
  const subscribeOnly: TaskFeed = {
    publish: () => {},
    publishWritten: () => {},
    subscribe: (...args) => taskFeed.subscribe(...args),
    watch: (...args) => taskFeed.watch(...args),
  };
  return {
    kind: 'postgres',
    db: pg,
    store: guardAvailability(createPgStore(pg), isUnavailableError),
    taskStore,
    listing,
    taskFeed: subscribeOnly,
    ping: () => pingDatabase(pg, 2000),
    close: async () => {
      // The last writes' notes (sent after their commits) go out before the pool ends, bounded in time.
      await Promise.race([taskNotesSent(pg), Bun.sleep(2_000)]);
      await unlisten().catch(() => {});
      // During an outage ending the pool may fail: the process is leaving either way.
      await pg.$client.end({ timeout: 2 }).catch(() => {});
    },
  };
}

/** Opens and migrates the database DATABASE_URL (PostgreSQL) or DATABASE_PATH (SQLite) names. */
export async function openBackend(
  config: Config,
  logger: Logger,
  clock: Clock,
  opts: BackendOptions = {},
): Promise<Backend> {
  return config.databaseUrl
    ? openPgBackend(config, config.databaseUrl, logger, clock)
    : openSqliteBackend(config, logger, clock, opts);
}

/** What AppDeps needs beyond the backend. */
export interface DepsParts {
  config: Config;
  logger: Logger;
  clock: Clock;
  options: OptionsStore;
  serverAddress: () => string;
  fetch: typeof fetch;
  pollerRole: AppDeps['pollerRole'];
  /** Unset = the app opens the folder IMAGE_CACHE_* names. */
  imageStore?: ImageStore | null;
  /** When aborted, every live-update stream ends (the shutdown's first step). */
  streamsEnd?: AbortSignal;
  startedAt: number;
  version: string;
}

export function gatewayDeps(backend: Backend, parts: DepsParts): AppDeps {
  const { streamsEnd, ...rest } = parts;
  return {
    ...rest,
    store: backend.store,
    database: backend.kind,
    taskStore: backend.taskStore,
    listing: backend.listing,
    metrics: createMetrics(),
    taskFeed: streamsEnd ? feedEndingOn(backend.taskFeed, streamsEnd) : backend.taskFeed,
    databaseHealthy: backend.ping,
  };
}

/** The poller (leadership through the lease row) and the webhook worker, built but not started. */
export interface BackgroundWork {
  poller: Poller;
  webhooks: WebhookWorker;
  /** The daily retention pass, run by the poller leader. */
  retention: RetentionSchedule;
  /** Starts the poller and the deliveries when UPDATE_TASK allows, and the options check (always). */
  start(options: OptionsStore): void;
  stop(): Promise<void>;
}

export function createBackgroundWork(deps: AppDeps): BackgroundWork {
  const { config, logger } = deps;
  // Processes sharing the database elect one poller through a lease row; UPDATE_TASK=false never runs for it.
  const retention = createRetentionSchedule(deps);
  const poller = createPoller({ ...deps, lease: deps.taskStore.lease, leaderWork: retention });
  // Deliveries go out from the poller leader only: processes sharing the database never race for
  // the outbox, and read-only replicas (UPDATE_TASK=false) never deliver.
  const webhooks = createWebhookWorker(deps, { mayDeliver: () => poller.role() === 'leader' });
  let stopWatchingOptions: (() => void) | null = null;
  return {
    poller,
    webhooks,
    retention,
    start(options) {
      if (config.updateTask) poller.start();
      stopWatchingOptions = options.watch({
        onChange: () => logger.info('options reloaded'),
        onError: (err) => logger.warn('options check failed', { error: err instanceof Error ? err : String(err) }),
      });
      if (config.updateTask) webhooks.start();
    },
    async stop() {
      stopWatchingOptions?.();
      await Promise.all([poller.stop(), webhooks.stop(), retention.stop()]);
    },
  };
}
