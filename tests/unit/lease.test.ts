import { beforeEach, describe, expect, test } from 'bun:test';
import { eq } from 'drizzle-orm';
import type { DB } from '../../src/db/client.ts';
import { leases, tasks } from '../../src/db/schema/index.ts';
import { createSqliteLeaseStore } from '../../src/db/sqlite/lease.ts';
import { createSqliteStore } from '../../src/db/sqlite/store.ts';
import { createSqliteSyncStore } from '../../src/db/sqlite/sync.ts';
import { type LeaseStore, POLLER_LEASE } from '../../src/domain/lease.ts';
import { createPoller, type PollerDeps } from '../../src/jobs/poller.ts';
import { ManualClock } from '../../src/lib/clock.ts';
import { createLogger } from '../../src/lib/logger.ts';
import { memoryDb } from '../helpers/db.ts';
import { createTestChannel, createTestUser, insertTask } from '../helpers/factories.ts';
import { waitFor } from '../helpers/server.ts';

/** The lease statement's semantics on a real (in-memory) database with the real migrations. */

const T0 = 1_790_000_000_000;
let db: DB;
let store: LeaseStore;

const row = () => db.select().from(leases).all();

/** The same store, counting attempts (so a test can wait for a standby to have tried). */
function counting(inner: LeaseStore): LeaseStore & { tries: number } {
  const out = {
    tries: 0,
    tryAcquire: (name: string, holder: string, now: number, ttlMs: number) => {
      out.tries++;
      return inner.tryAcquire(name, holder, now, ttlMs);
    },
    release: (name: string, holder: string) => inner.release(name, holder),
  };
  return out;
}

beforeEach(() => {
  db = memoryDb();
  store = createSqliteLeaseStore(db);
});

describe('sqlite lease statement', () => {
  test('a free lease is taken and written with its expiry', () => {
    expect(store.tryAcquire('poller', 'a', T0, 1000)).toBe(true);
    expect(row()).toEqual([{ name: 'poller', holder: 'a', expiresAt: T0 + 1000 }]);
  });

  test('the holder renews, pushing the expiry forward', () => {
    store.tryAcquire('poller', 'a', T0, 1000);
    expect(store.tryAcquire('poller', 'a', T0 + 900, 1000)).toBe(true);
    expect(row()).toEqual([{ name: 'poller', holder: 'a', expiresAt: T0 + 1900 }]);
  });

  test('another holder cannot take it before it expires, nor at the very expiry instant', () => {
    store.tryAcquire('poller', 'a', T0, 1000);
    expect(store.tryAcquire('poller', 'b', T0 + 1, 1000)).toBe(false);
    expect(store.tryAcquire('poller', 'b', T0 + 1000, 1000)).toBe(false);
    expect(row()).toEqual([{ name: 'poller', holder: 'a', expiresAt: T0 + 1000 }]);
  });

  test('after expiry another holder steals it, and the old holder can no longer renew', () => {
    store.tryAcquire('poller', 'a', T0, 1000);
    expect(store.tryAcquire('poller', 'b', T0 + 1001, 1000)).toBe(true);
    expect(row()).toEqual([{ name: 'poller', holder: 'b', expiresAt: T0 + 2001 }]);
    expect(store.tryAcquire('poller', 'a', T0 + 1002, 1000)).toBe(false);
    expect(row()[0]!.holder).toBe('b');
  });

  test('release only by the holder', () => {
    store.tryAcquire('poller', 'a', T0, 1000);
    store.release('poller', 'b');
    expect(row()).toHaveLength(1);
    store.release('poller', 'a');
    expect(row()).toHaveLength(0);
    // Released: anyone takes it at once, long before the old expiry.
    expect(store.tryAcquire('poller', 'b', T0 + 1, 1000)).toBe(true);
  });

  test('leases by different names are independent', () => {
    expect(store.tryAcquire('poller', 'a', T0, 1000)).toBe(true);
    expect(store.tryAcquire('other', 'b', T0, 1000)).toBe(true);
    expect(
      row()
        .map((r) => r.holder)
        .sort(),
    ).toEqual(['a', 'b']);
  });
});

describe('poller role', () => {
  let clock: ManualClock;
  let lines: Array<Record<string, unknown>>;
  type FetchFn = (url: string, init: RequestInit) => Promise<Response>;
  let fetchImpl: FetchFn;

  function deps(): PollerDeps {
    return {
      store: createSqliteStore(db),
      taskStore: { sync: createSqliteSyncStore(db) },
      clock,
      fetch: ((url: string, init: RequestInit) => fetchImpl(url, init)) as unknown as typeof fetch,
      lease: store,
      logger: createLogger('debug', {}, (l) => lines.push(JSON.parse(l) as Record<string, unknown>)),
      config: {
        pollIntervalMs: 5,
        pollLeaseMs: 1000,
        pollBatchSize: 100,
        taskTimeoutMs: 3_600_000,
        upstreamTimeoutMs: 60_000,
      },
    };
  }

  beforeEach(() => {
    clock = new ManualClock(T0);
    lines = [];
    fetchImpl = async () => Response.json([]);
  });

  test('off until started; one leader and one standby; stop hands over at once', async () => {
    const counted = counting(store);
    const a = createPoller(deps(), { holder: 'a' });
    const b = createPoller({ ...deps(), lease: counted }, { holder: 'b' });
    expect(a.role()).toBe('off');
    a.start();
    await waitFor(() => a.role() === 'leader', 'a leads');
    b.start();
    await waitFor(() => counted.tries >= 3, 'b tries a few times');
    expect(b.role()).toBe('standby');
    expect(a.role()).toBe('leader');
    expect(row()[0]!.holder).toBe('a');
    await a.stop();
    expect(a.role()).toBe('off');
    // Released with the lease still unexpired (the clock has not moved): b takes it on its next tick.
    expect(row()).toHaveLength(0);
    await waitFor(() => b.role() === 'leader', 'b takes over');
    expect(row()[0]!.holder).toBe('b');
    await b.stop();
  });

  test('leader work (the daily retention pass) is asked for on the leader only', async () => {
    const asked = { a: 0, b: 0 };
    const counted = counting(store);
    const a = createPoller({ ...deps(), leaderWork: { maybeRun: () => asked.a++ } }, { holder: 'a' });
    const b = createPoller({ ...deps(), lease: counted, leaderWork: { maybeRun: () => asked.b++ } }, { holder: 'b' });
    a.start();
    await waitFor(() => asked.a >= 2, 'the leader is asked on its ticks');
    b.start();
    await waitFor(() => counted.tries >= 3, 'b tries a few times');
    expect(b.role()).toBe('standby');
    expect(asked.b).toBe(0);
    await a.stop();
    await waitFor(() => asked.b >= 1, 'the new leader is asked');
    await b.stop();
  });

  test('a dead leader is replaced only once its lease has expired', async () => {
    store.tryAcquire(POLLER_LEASE, 'crashed', T0, 1000);
    const counted = counting(store);
    const b = createPoller({ ...deps(), lease: counted }, { holder: 'b' });
    b.start();
    await waitFor(() => counted.tries >= 3, 'b tries');
    expect(b.role()).toBe('standby');
    clock.advance(1000);
    const before = counted.tries;
    await waitFor(() => counted.tries >= before + 3, 'b tries at the expiry instant');
    expect(b.role()).toBe('standby');
    expect(row()[0]!.holder).toBe('crashed');
    clock.advance(1);
    await waitFor(() => b.role() === 'leader', 'b takes over after expiry');
    expect(row()[0]).toEqual({ name: POLLER_LEASE, holder: 'b', expiresAt: expect.any(Number) });
    await b.stop();
  });

  test('a leader whose lease is taken mid-tick finds out on its renew timer and cancels its calls', async () => {
    const userId = createTestUser(db, { quota: 1000 }).id;
    const channelId = createTestChannel(db, 'http://up.test', { key: 'k' });
    const task = insertTask(db, { userId, channelId, submitTime: T0, progress: '0%' });
    let started!: () => void;
    const inFlight = new Promise<void>((r) => (started = r));
    let aborted = false;
    fetchImpl = (_url, init) => {
      started();
      return new Promise((_, reject) =>
        init.signal?.addEventListener('abort', () => {
          aborted = true;
          reject(new DOMException('aborted', 'AbortError'));
        }),
      );
    };
    // Ticks rarer than the lease: only the renew timer (every lease/3) can notice the loss.
    // The task times out while the call hangs: a cancelled tick must not write that (the new leader decides).
    const a = createPoller(
      { ...deps(), config: { ...deps().config, pollIntervalMs: 60_000, pollLeaseMs: 30, taskTimeoutMs: 500 } },
      { holder: 'a' },
    );
    a.start();
    await inFlight;
    expect(a.role()).toBe('leader');
    // The tick hangs past the lease (a frozen clock lets it renew until now): someone else takes it.
    clock.advance(1000);
    expect(store.tryAcquire(POLLER_LEASE, 'b', clock.now(), 60_000)).toBe(true);
    await waitFor(() => aborted, 'the in-flight call is cancelled');
    expect(a.role()).toBe('standby');
    expect(lines.some((l) => l.msg === 'poller lease lost' && l.level === 'warn')).toBe(true);
    await a.stop();
    // Stopping a process that lost the lease leaves the new holder's row alone.
    expect(row()[0]!.holder).toBe('b');
    expect(db.select().from(tasks).where(eq(tasks.id, task.id)).get()).toMatchObject({ progress: '0%', status: '' });
  });
});
