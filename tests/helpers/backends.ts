import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openBackend } from '../../src/backend.ts';
import { loadConfig } from '../../src/config.ts';
import type { AppDeps } from '../../src/deps.ts';
import type { DatabaseKind } from '../../src/domain/lease.ts';
import type { ManualClock } from '../../src/lib/clock.ts';
import { silentLogger } from '../../src/lib/logger.ts';
import { freshPgDatabase } from './pg.ts';
import { sqlOn } from './server.ts';

/**
 * The storage half of AppDeps on a fresh database of either kind, built by src/backend.ts as
 * src/index.ts builds it (PostgreSQL's stores guarded for outages, its feed fed by NOTIFY), for
 * tests that run one scenario on both backends.
 */
export type Parts = Pick<AppDeps, 'store' | 'taskStore' | 'listing' | 'taskFeed' | 'database'> & {
  /** Plain SQL with `$1` placeholders on both databases. */
  all<T>(text: string, ...params: unknown[]): Promise<T[]>;
  close(): Promise<void>;
};

async function partsOn(kind: DatabaseKind, clock: ManualClock): Promise<Parts> {
  const dir = mkdtempSync(join(tmpdir(), 'mjgw-'));
  const pg = kind === 'postgres' ? await freshPgDatabase() : null;
  const config = loadConfig({
    DATABASE_PATH: join(dir, 'test.db'),
    ...(pg ? { DATABASE_URL: pg.url, DATABASE_POOL_SIZE: '4' } : {}),
  });
  const backend = await openBackend(config, silentLogger, clock, { listing: 'in-thread', checkpointer: false });
  return {
    database: backend.kind,
    store: backend.store,
    taskStore: backend.taskStore,
    listing: backend.listing,
    taskFeed: backend.taskFeed,
    all: sqlOn(backend.kind === 'sqlite' ? { kind: 'sqlite', db: backend.db } : { kind: 'postgres', db: backend.db }),
    close: async () => {
      await backend.close();
      await pg?.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const sqliteParts = (clock: ManualClock): Promise<Parts> => partsOn('sqlite', clock);
export const pgParts = (clock: ManualClock): Promise<Parts> => partsOn('postgres', clock);
