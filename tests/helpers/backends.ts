import type { AppDeps } from '../../src/deps.ts';
import { isUnavailableError } from '../../src/db/pg/health.ts';
import { createPgStore } from '../../src/db/pg/store.ts';
import { createPgFeedReads } from '../../src/db/pg/task-reads.ts';
import { createPgTaskStore } from '../../src/db/pg/task-store.ts';
import { createSqliteFeedReads } from '../../src/db/sqlite/feed-reads.ts';
import { createSqliteStore } from '../../src/db/sqlite/store.ts';
import { createSqliteTaskStore } from '../../src/db/sqlite/task-store.ts';
import { inThreadListing, renderListing, type ListingExecutor } from '../../src/domain/listing-executor.ts';
import { guardAvailability } from '../../src/domain/store/availability.ts';
import { InProcessTaskFeed } from '../../src/domain/task-feed.ts';
import type { ManualClock } from '../../src/lib/clock.ts';
import { tempDb } from './db.ts';
import { tempPg } from './pg.ts';

/**
 * The storage half of AppDeps on a fresh database of either kind, built as src/index.ts builds it
 * (PostgreSQL's stores guarded for outages), for tests that run one scenario on both backends.
 */
export type Parts = Pick<AppDeps, 'store' | 'taskStore' | 'listing' | 'taskFeed' | 'database'> & {
  /** Plain SQL with `$1` placeholders on both databases. */
  all<T>(text: string, ...params: unknown[]): Promise<T[]>;
  close(): Promise<void>;
};

export async function sqliteParts(clock: ManualClock): Promise<Parts> {
  const t = tempDb();
  const listing: ListingExecutor = inThreadListing(t.db);
  return {
    database: 'sqlite', store: createSqliteStore(t.db), taskStore: createSqliteTaskStore(t.db, listing), listing,
    taskFeed: new InProcessTaskFeed(createSqliteFeedReads(t.db), clock, { changeWindowMs: 3_600_000 }),
    all: async <T>(text: string, ...params: unknown[]) => t.db.$client.query(text.replace(/\$(\d+)/g, '?$1')).all(...(params as never[])) as T[],
    close: async () => t.cleanup(),
  };
}

export async function pgParts(clock: ManualClock): Promise<Parts> {
  const t = await tempPg();
  // As src/index.ts builds them: an outage is `database unavailable`, anything else unchanged.
  const taskStore = guardAvailability(createPgTaskStore(t.db, renderListing), isUnavailableError);
  return {
    database: 'postgres', store: guardAvailability(createPgStore(t.db), isUnavailableError), taskStore,
    listing: { list: taskStore.tasks.list, listJson: taskStore.tasks.listJson, close: async () => {} },
    taskFeed: new InProcessTaskFeed(createPgFeedReads(t.db), clock, { changeWindowMs: 3_600_000 }),
    all: async <T>(text: string, ...params: unknown[]) => [...await t.db.$client.unsafe(text, params as never[])] as T[],
    close: () => t.cleanup(),
  };
}

