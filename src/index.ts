import { createApp } from './app.ts';
import { startDemo } from './demo.ts';
import { createPoller, type Poller } from './jobs/poller.ts';
import { createWebhookWorker } from './jobs/webhooks.ts';
import { ConfigError, loadConfig, type Config } from './config.ts';
import { createSqliteStore } from './db/sqlite/store.ts';
import { openDatabase } from './db/client.ts';
import { startWalCheckpointer } from './db/sqlite/checkpointer.ts';
import { DatabaseUrlError, openPgDatabase, type PgDB } from './db/pg/client.ts';
import { isRecoverableDriverFault, isUnavailableError, pingDatabase } from './db/pg/health.ts';
import { onTaskChanges } from './db/pg/notify.ts';
import { createPgFeedReads } from './db/pg/task-reads.ts';
import { createPgStore } from './db/pg/store.ts';
import { createPgTaskStore } from './db/pg/task-store.ts';
import type { DatabaseKind } from './domain/lease.ts';
import { guardAvailability } from './domain/store/availability.ts';
import type { Store } from './domain/store/index.ts';
import type { TaskStore } from './domain/store/tasks.ts';
import type { Clock } from './lib/clock.ts';
import type { Logger } from './lib/logger.ts';
import { createSqliteTaskStore } from './db/sqlite/task-store.ts';
import type { AppDeps } from './deps.ts';
import { inThreadListing, isSharedFile, renderListing, routedListing, type ListingExecutor } from './domain/listing-executor.ts';
import { ListingPool } from './domain/listing-pool.ts';
import { OptionsStore } from './domain/options.ts';
import { createMetrics } from './lib/metrics.ts';
import { openImageStore } from './images/folder-store.ts';
import type { ImageStore } from './images/store.ts';
import { createSqliteFeedReads } from './db/sqlite/feed-reads.ts';
import { changeWindowOf, InProcessTaskFeed, type TaskFeed } from './domain/task-feed.ts';
import { bootstrapRoot } from './domain/users.ts';
import { systemClock } from './lib/clock.ts';
import { createLogger } from './lib/logger.ts';
import { installProcessFaultHandlers } from './lib/process-faults.ts';
import { isDatabaseUnavailable } from './domain/errors.ts';
import { feedEndingOn, installShutdown } from './shutdown.ts';
import { cannotListen, probePortOrExit } from './listen.ts';
import pkg from '../package.json' with { type: 'json' };

/**
 * Listen without SO_REUSEPORT (Elysia turns it on by default, which lets a second gateway share the
 * port and run a second poller). probePortOrExit has already found the port free; should another
 * process take it in between, this start still ends with the same one line and exit code 2.
 */
function listenOrExit(app: ReturnType<typeof createApp>, config: Config, closeDb: () => void): ReturnType<typeof createApp> {
  try {
    return app.listen({ port: config.port, hostname: config.host, reusePort: false });
  } catch (err) {
    closeDb();
    cannotListen(config, err);
  }
}

/** What the app runs on: the two stores, where listings run, the live feed, and how to close them. */
interface Backend {
  kind: DatabaseKind;
  store: Store;
  taskStore: TaskStore;
  listing: ListingExecutor;
  taskFeed: TaskFeed;
  /** Whether the database answers now (`/healthz`). */
  ping: () => Promise<boolean>;
  close: () => Promise<void>;
}

function openSqliteBackend(config: Config, logger: Logger, clock: Clock): Backend {
  const db = openDatabase(config.databasePath);
  // Opened after the migrations above, so the workers' read-only connections see the final schema.
  const listing: ListingExecutor = config.readWorkers > 0 && isSharedFile(config.databasePath)
    ? routedListing(inThreadListing(db), new ListingPool({ path: config.databasePath, size: config.readWorkers, logger }))
    : inThreadListing(db);
  // WAL checkpoints on a thread of their own, never inside a commit of the event loop's (issue 15).
  const checkpointer = isSharedFile(config.databasePath)
    ? startWalCheckpointer(db, config.databasePath, { onError: (message) => logger.warn(message) })
    : null;
  return {
    kind: 'sqlite', store: createSqliteStore(db), taskStore: createSqliteTaskStore(db, listing), listing,
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
  const listing: ListingExecutor = { list: taskStore.tasks.list, listJson: taskStore.tasks.listJson, close: async () => {} };
  // Live updates across replicas: the task store NOTIFYs the ids of every write in its
  // transaction; each replica feeds what it hears (its own writes included) to its local feed.
  const taskFeed = new InProcessTaskFeed(createPgFeedReads(pg), clock, { changeWindowMs: changeWindowOf(config) });
  const unlisten = await onTaskChanges(pg, (ids) => taskFeed.publish(ids), {
    onError: (err) => logger.warn('task change listener failed', { error: err instanceof Error ? err.message : String(err) }),
  });
  // That echo is the one path: a writer's own publish would read the same rows a second time.
  const subscribeOnly: TaskFeed = { publish: () => {}, subscribe: (...args) => taskFeed.subscribe(...args), watch: (...args) => taskFeed.watch(...args) };
  return {
    kind: 'postgres', store: guardAvailability(createPgStore(pg), isUnavailableError), taskStore, listing, taskFeed: subscribeOnly,
    ping: () => pingDatabase(pg, 2000),
    close: async () => {
      await unlisten().catch(() => {});
      // During an outage ending the pool may fail: the process is leaving either way.
      await pg.$client.end({ timeout: 2 }).catch(() => {});
    },
  };
}

/** Composition root: config → port check → db + migrations → app.listen → background work → clean shutdown. */
async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  probePortOrExit(config);
  const logger = createLogger(config.logLevel, { service: 'mj-gateway' });
  // A safety net only (issue 14): the driver's faults while PostgreSQL is away are survivable.
  installProcessFaultHandlers(logger, (err) => isDatabaseUnavailable(err)
    || (config.databaseUrl !== null && isRecoverableDriverFault(err)));
  const clock = systemClock;
  const backend = config.databaseUrl ? await openPgBackend(config, config.databaseUrl, logger, clock) : openSqliteBackend(config, logger, clock);
  const { store, listing } = backend;
  let options: OptionsStore;
  try {
    options = await OptionsStore.bootstrap(store.options, config.optionOverrides);
  } catch (err) {
    process.stderr.write(`invalid configuration: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  }
  let imageStore: ImageStore | null;
  try {
    imageStore = openImageStore(config.imageCacheDir, config.imageCacheMaxBytes, logger);
  } catch (err) {
    process.stderr.write(`invalid configuration: IMAGE_CACHE_DIR: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  }

  let listeningPort = config.port;
  // Aborted on shutdown: every live-update stream ends, so the server's graceful stop is not held up.
  const streamsEnd = new AbortController();
  let poller: Poller | null = null;
  const deps: AppDeps = {
    store, database: backend.kind, taskStore: backend.taskStore, config, listing, logger, clock, options, metrics: createMetrics(),
    serverAddress: () => config.serverAddress ?? `http://localhost:${listeningPort}`,
    fetch: globalThis.fetch,
    pollerRole: () => poller?.role() ?? 'off',
    imageStore,
    taskFeed: feedEndingOn(backend.taskFeed, streamsEnd.signal),
    databaseHealthy: backend.ping,
    startedAt: clock.now(),
    version: pkg.version,
  };
  const app = listenOrExit(createApp(deps), config, () => void backend.close());
  listeningPort = app.server?.port ?? config.port;
  // Set as start-up goes on; the signal handlers are in place from the moment the port is taken.
  let demo: { stop: () => Promise<void> } | null = null;
  let stopWatchingOptions: (() => void) | null = null;
  let webhooks: ReturnType<typeof createWebhookWorker> | null = null;
  const lifecycle = installShutdown({
    logger,
    server: () => app.server,
    endStreams: () => streamsEnd.abort(),
    stopWork: async () => {
      stopWatchingOptions?.();
      await Promise.all([poller?.stop(), webhooks?.stop()]);
    },
    close: async () => {
      await demo?.stop();
      await backend.close();
    },
  });
  // After listen (so a start on a busy port creates nothing) and first thing after it: SQLite's
  // store writes before its promise settles, so no request is served before root exists.
  const root = await bootstrapRoot(deps.store, clock, config.initialRootAccessToken);
  if (root.generatedToken && !config.demo) {
    // Printed once, on the first start, to the terminal only: never written to the log stream.
    // With DEMO the banner prints it, so it still appears once.
    console.log(`root user created; access token (shown once): ${root.generatedToken}`);
  }
  logger.info('listening', { host: config.host, port: listeningPort, database: backend.kind === 'sqlite' ? config.databasePath : 'postgres' });
  console.log(`mj-gateway listening on http://${config.host === '0.0.0.0' ? 'localhost' : config.host}:${listeningPort}`);

  demo = config.demo ? await startDemo(deps, { rootCreated: root.created }) : null;
  // A signal during start-up: start nothing more (the shutdown has stopped what there was).
  if (lifecycle.stopping()) return;
  // Processes sharing the database elect one poller through a lease row; UPDATE_TASK=false never runs for it.
  poller = createPoller({ ...deps, lease: deps.taskStore.lease });
  if (config.updateTask) poller.start();
  stopWatchingOptions = options.watch({
    onChange: () => logger.info('options reloaded'),
    onError: (err) => logger.warn('options check failed', { error: err instanceof Error ? err : String(err) }),
  });
  // Deliveries go out from the poller leader only: processes sharing the database never race for
  // the outbox, and read-only replicas (UPDATE_TASK=false) never deliver.
  webhooks = createWebhookWorker(deps, { mayDeliver: () => poller?.role() === 'leader' });
  if (config.updateTask) webhooks.start();
}

await main();
