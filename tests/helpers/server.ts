import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from '../../src/app.ts';
import {
  type Backend,
  type BackgroundWork,
  createBackgroundWork,
  gatewayDeps,
  openBackend,
} from '../../src/backend.ts';
import { type Config, loadConfig } from '../../src/config.ts';
import type { ListingExecutor } from '../../src/contract/listing.ts';
import type { DB } from '../../src/db/client.ts';
import type { PgDB } from '../../src/db/pg/client.ts';
import type { AppDeps } from '../../src/deps.ts';
import type { DatabaseKind } from '../../src/domain/lease.ts';
import { OptionsStore } from '../../src/domain/options.ts';
import { bootstrapRoot } from '../../src/domain/users.ts';
import { type Clock, systemClock } from '../../src/lib/clock.ts';
import { type Logger, silentLogger } from '../../src/lib/logger.ts';
import { freshPgDatabase } from './pg.ts';

export const ROOT_TOKEN = 'test-root-access-token-0123456789';
export const ROOT_HEADERS = { authorization: `Bearer ${ROOT_TOKEN}`, 'new-api-user': '1' } as const;

/**
 * Which database the test servers run on: SQLite unless TEST_BACKEND=postgres (scripts/test.sh
 * runs the suites that work on both a second time so, on its private cluster's TEST_DATABASE_URL).
 */
export function testBackend(): DatabaseKind {
  const chosen = process.env.TEST_BACKEND ?? 'sqlite';
  if (chosen !== 'sqlite' && chosen !== 'postgres')
    throw new Error(`TEST_BACKEND must be sqlite or postgres, not ${chosen}`);
  return chosen;
}

/** The test's own handle on the server's database, whichever it is. */
export type TestDb = { kind: 'sqlite'; db: DB } | { kind: 'postgres'; db: PgDB };

export interface TestServer {
  url: string;
  /** Which database this server runs on. */
  backend: DatabaseKind;
  /** The database as the test reaches it directly (seeding rows, reading what a request wrote). */
  handle: TestDb;
  /** The SQLite database; only for suites that run on SQLite alone (throws on PostgreSQL). */
  db: DB;
  /** A file in the server's own temp folder (the SQLite file; image folders live next to it). */
  dbPath: string;
  /** Plain SQL with `$1` placeholders, on either database. */
  sql<T>(text: string, ...params: unknown[]): Promise<T[]>;
  deps: AppDeps;
  config: Config;
  /** The listing executor deps.listing is (a ListingPool when the test asked for `listing: 'pool'`). */
  listing: ListingExecutor;
  /** The poller and webhook worker src/index.ts would run, built but not started (UPDATE_TASK=false). */
  work: BackgroundWork;
  stop: () => Promise<void>;
}

/** Plain SQL with `$1` placeholders on either database. */
export function sqlOn(handle: TestDb): TestServer['sql'] {
  if (handle.kind === 'sqlite') {
    return async <T>(text: string, ...params: unknown[]) =>
      handle.db.$client.query(text.replace(/\$(\d+)/g, '?$1')).all(...(params as never[])) as T[];
  }
  return async <T>(text: string, ...params: unknown[]) =>
    [...(await handle.db.$client.unsafe(text, params as never[]))] as T[];
}

/**
 * The real app on a real port (0 = any free), assembled by src/backend.ts as src/index.ts
 * assembles it, over a fresh real database with the real migrations: a SQLite file, or a fresh
 * database on the suite's PostgreSQL server (`backend`, default testBackend()).
 * `env` is the environment the config is parsed from, exactly as in production.
 */
export async function startTestServer(
  opts: {
    env?: Record<string, string>;
    clock?: Clock;
    logger?: Logger;
    fetch?: typeof fetch;
    /** SQLite listings in this thread (default) or on a worker pool of READ_WORKERS threads (at least 1). */
    listing?: 'in-thread' | 'pool';
    backend?: DatabaseKind;
  } = {},
): Promise<TestServer> {
  const kind = opts.backend ?? testBackend();
  const dir = mkdtempSync(join(tmpdir(), 'mjgw-'));
  const path = join(dir, 'test.db');
  const pg = kind === 'postgres' ? await freshPgDatabase() : null;
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_PATH: path,
    UPDATE_TASK: 'false',
    ...(pg ? { DATABASE_URL: pg.url, DATABASE_POOL_SIZE: '4' } : {}),
    ...opts.env,
  });
  const clock = opts.clock ?? systemClock;
  const logger = opts.logger ?? silentLogger;
  let backend: Backend;
  try {
    backend = await openBackend(config, logger, clock, { listing: opts.listing ?? 'in-thread', checkpointer: false });
  } catch (err) {
    await pg?.drop();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const options = await OptionsStore.bootstrap(backend.store.options, config.optionOverrides);
  await bootstrapRoot(backend.store, clock, ROOT_TOKEN);
  let port = 0;
  const deps = gatewayDeps(backend, {
    config,
    logger,
    clock,
    options,
    serverAddress: () => config.serverAddress ?? `http://localhost:${port}`,
    fetch: opts.fetch ?? globalThis.fetch,
    pollerRole: () => 'off',
    startedAt: clock.now(),
    version: 'test',
  });
  const work = createBackgroundWork(deps);
  const app = createApp(deps).listen({ port: 0, hostname: '127.0.0.1' });
  port = app.server?.port ?? 0;
  const handle: TestDb =
    backend.kind === 'sqlite' ? { kind: 'sqlite', db: backend.db } : { kind: 'postgres', db: backend.db };
  return {
    url: `http://127.0.0.1:${port}`,
    backend: backend.kind,
    handle,
    dbPath: path,
    deps,
    config,
    listing: backend.listing,
    work,
    get db(): DB {
      if (handle.kind !== 'sqlite') throw new Error('this test reads SQLite directly: it runs on SQLite only');
      return handle.db;
    },
    sql: sqlOn(handle),
    stop: async () => {
      await app.stop(true);
      await work.stop();
      await backend.close();
      await pg?.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Poll `check` until it returns a truthy value (no fixed sleeps in tests). */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  what: string,
  timeoutMs = 10_000,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(10);
  }
}
