import { createApp } from '../../src/app.ts';
import { loadConfig, type Config } from '../../src/config.ts';
import type { DB } from '../../src/db/client.ts';
import { createSqliteStore } from '../../src/db/sqlite/store.ts';
import type { AppDeps } from '../../src/deps.ts';
import { inThreadListing, type ListingExecutor } from '../../src/domain/listing-executor.ts';
import { ListingPool } from '../../src/domain/listing-pool.ts';
import { createSqliteTaskStore } from '../../src/db/sqlite/task-store.ts';
import { OptionsStore } from '../../src/domain/options.ts';
import { createSqliteFeedReads } from '../../src/db/sqlite/feed-reads.ts';
import { changeWindowOf, InProcessTaskFeed } from '../../src/domain/task-feed.ts';
import { bootstrapRoot } from '../../src/domain/users.ts';
import { systemClock, type Clock } from '../../src/lib/clock.ts';
import { silentLogger, type Logger } from '../../src/lib/logger.ts';
import { createMetrics } from '../../src/lib/metrics.ts';
import { tempDb } from './db.ts';

export const ROOT_TOKEN = 'test-root-access-token-0123456789';
export const ROOT_HEADERS = { authorization: `Bearer ${ROOT_TOKEN}`, 'new-api-user': '1' } as const;

export interface TestServer {
  url: string;
  db: DB;
  dbPath: string;
  deps: AppDeps;
  config: Config;
  /** The listing executor deps.listing is (a ListingPool when the test asked for `listing: 'pool'`). */
  listing: ListingExecutor;
  stop: () => Promise<void>;
}

/**
 * The real app on a real port (0 = any free) over a real SQLite file with the real migrations.
 * `env` is the environment the config is parsed from, exactly as in production.
 */
export async function startTestServer(opts: {
  env?: Record<string, string>; clock?: Clock; logger?: Logger; fetch?: typeof fetch;
  /** Listings in this thread (default) or on a worker pool of READ_WORKERS threads (at least 1). */
  listing?: 'in-thread' | 'pool';
} = {}): Promise<TestServer> {
  const { db, path, cleanup } = tempDb();
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', DATABASE_PATH: path, UPDATE_TASK: 'false', ...opts.env });
  const clock = opts.clock ?? systemClock;
  const store = createSqliteStore(db);
  const options = await OptionsStore.bootstrap(store.options, config.optionOverrides);
  await bootstrapRoot(store, clock, ROOT_TOKEN);
  let port = 0;
  const logger = opts.logger ?? silentLogger;
  const listing = opts.listing === 'pool'
    ? new ListingPool({ path, size: Math.max(1, config.readWorkers), logger })
    : inThreadListing(db);
  const deps: AppDeps = {
    db, store, database: 'sqlite', taskStore: createSqliteTaskStore(db, listing), config, listing, clock, options, metrics: createMetrics(),
    logger,
    serverAddress: () => config.serverAddress ?? `http://localhost:${port}`,
    fetch: opts.fetch ?? globalThis.fetch,
    pollerRole: () => 'off',
    taskFeed: new InProcessTaskFeed(createSqliteFeedReads(db), clock, { changeWindowMs: changeWindowOf(config) }),
    startedAt: clock.now(),
    version: 'test',
  };
  const app = createApp(deps).listen({ port: 0, hostname: '127.0.0.1' });
  port = app.server?.port ?? 0;
  return {
    url: `http://127.0.0.1:${port}`, db, dbPath: path, deps, config, listing,
    stop: async () => {
      await app.stop(true);
      await listing.close();
      cleanup();
    },
  };
}

/** Poll `check` until it returns a truthy value (no fixed sleeps in tests). */
export async function waitFor<T>(check: () => T | Promise<T>, what: string, timeoutMs = 10_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(10);
  }
}
