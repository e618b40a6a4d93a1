import { createApp } from './app.ts';
import { startDemo } from './demo.ts';
import { createPoller, type Poller } from './jobs/poller.ts';
import { createWebhookWorker } from './jobs/webhooks.ts';
import { ConfigError, loadConfig, type Config } from './config.ts';
import { createSqliteStore } from './db/sqlite/store.ts';
import { openDatabase, type DB } from './db/client.ts';
import { createSqliteTaskStore } from './db/sqlite/task-store.ts';
import type { AppDeps } from './deps.ts';
import { inThreadListing, isSharedFile, routedListing, type ListingExecutor } from './domain/listing-executor.ts';
import { ListingPool } from './domain/listing-pool.ts';
import { OptionsStore } from './domain/options.ts';
import { createMetrics } from './lib/metrics.ts';
import { openImageStore } from './images/folder-store.ts';
import type { ImageStore } from './images/store.ts';
import { createSqliteFeedReads } from './db/sqlite/feed-reads.ts';
import { changeWindowOf, InProcessTaskFeed } from './domain/task-feed.ts';
import { bootstrapRoot } from './domain/users.ts';
import { systemClock } from './lib/clock.ts';
import { createLogger } from './lib/logger.ts';
import pkg from '../package.json' with { type: 'json' };

/**
 * Listen without SO_REUSEPORT (Elysia turns it on by default, which lets a second gateway share the
 * port and run a second poller); a busy port stops start-up with one line and exit code 2.
 */
function listenOrExit(app: ReturnType<typeof createApp>, config: Config, db: DB): ReturnType<typeof createApp> {
  try {
    return app.listen({ port: config.port, hostname: config.host, reusePort: false });
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    process.stderr.write(code === 'EADDRINUSE'
      ? `port ${config.port} is already in use (HOST ${config.host})\n`
      : `cannot listen on ${config.host}:${config.port}: ${err instanceof Error ? err.message : String(err)}\n`);
    db.$client.close();
    process.exit(2);
  }
}

/** Composition root: config → db + migrations → app.listen → background work → clean shutdown. */
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
  const logger = createLogger(config.logLevel, { service: 'mj-gateway' });
  const clock = systemClock;
  const db = openDatabase(config.databasePath);
  const store = createSqliteStore(db);
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

  // Opened after the migrations above, so the workers' read-only connections see the final schema.
  const listing: ListingExecutor = config.readWorkers > 0 && isSharedFile(config.databasePath)
    ? routedListing(inThreadListing(db), new ListingPool({ path: config.databasePath, size: config.readWorkers, logger }))
    : inThreadListing(db);

  let listeningPort = config.port;
  let poller: Poller | null = null;
  const deps: AppDeps = {
    db, store, database: 'sqlite', taskStore: createSqliteTaskStore(db, listing), config, listing, logger, clock, options, metrics: createMetrics(),
    serverAddress: () => config.serverAddress ?? `http://localhost:${listeningPort}`,
    fetch: globalThis.fetch,
    pollerRole: () => poller?.role() ?? 'off',
    imageStore,
    taskFeed: new InProcessTaskFeed(createSqliteFeedReads(db), clock, { changeWindowMs: changeWindowOf(config) }),
    startedAt: clock.now(),
    version: pkg.version,
  };
  const app = listenOrExit(createApp(deps), config, db);
  listeningPort = app.server?.port ?? config.port;
  // After listen (so a start on a busy port creates nothing) and first thing after it: SQLite's
  // store writes before its promise settles, so no request is served before root exists.
  const root = await bootstrapRoot(deps.store, clock, config.initialRootAccessToken);
  if (root.generatedToken && !config.demo) {
    // Printed once, on the first start, to the terminal only: never written to the log stream.
    // With DEMO the banner prints it, so it still appears once.
    console.log(`root user created; access token (shown once): ${root.generatedToken}`);
  }
  logger.info('listening', { host: config.host, port: listeningPort, database: config.databasePath });
  console.log(`mj-gateway listening on http://${config.host === '0.0.0.0' ? 'localhost' : config.host}:${listeningPort}`);

  const demo = config.demo ? await startDemo(deps) : null;
  // Processes sharing the database elect one poller through a lease row; UPDATE_TASK=false never runs for it.
  poller = createPoller({ ...deps, lease: deps.taskStore.lease });
  if (config.updateTask) poller.start();
  const stopWatchingOptions = options.watch({
    onChange: () => logger.info('options reloaded'),
    onError: (err) => logger.warn('options check failed', { error: err instanceof Error ? err : String(err) }),
  });
  // Deliveries go out from the poller leader only: processes sharing the database never race for
  // the outbox, and read-only replicas (UPDATE_TASK=false) never deliver.
  const webhooks = createWebhookWorker(deps, { mayDeliver: () => poller?.role() === 'leader' });
  if (config.updateTask) webhooks.start();

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info('shutting down', { signal });
    await app.stop();
    stopWatchingOptions();
    await poller?.stop();
    await webhooks.stop();
    await demo?.stop();
    await listing.close();
    db.$client.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

await main();
