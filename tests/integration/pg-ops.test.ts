import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'bun:test';
import { RATE_LIMIT_WINDOW_MS as WINDOW_MS } from '../../src/contract/constants.ts';
import { openPgDatabase, type PgDB } from '../../src/db/pg/client.ts';
import { createPgLeaseStore, type PgLeaseStore } from '../../src/db/pg/lease.ts';
import { retryAfterSecondsAt, takeSubmitSlotPg } from '../../src/db/pg/rate-limit.ts';
import { takeSubmitSlot } from '../../src/db/sqlite/rate-limit.ts';
import { memoryDb } from '../helpers/db.ts';
import { type TempPg, tempPg } from '../helpers/pg.ts';

/**
 * The leader lease and the rate-limit window on a real PostgreSQL server, from several PgDB
 * instances (as replicas), with the SQLite stores' semantics.
 */

const T0 = 1_790_000_000_000;
let t: TempPg;
const replicas: PgDB[] = [];

beforeAll(async () => {
  t = await tempPg();
  for (let i = 0; i < 3; i++) replicas.push(await openPgDatabase(t.url, { poolSize: 4 }));
});

afterAll(async () => {
  for (const r of replicas) await r.$client.end({ timeout: 1 });
  await t.cleanup();
});

const leaseRows = async () => [
  ...(await t.db.$client<
    Array<{ name: string; holder: string; expires_at: number }>
  >`SELECT * FROM leases ORDER BY name`),
];
const dbNowMs = async () =>
  (await t.db.$client<Array<{ n: number }>>`SELECT (extract(epoch FROM now()) * 1000)::bigint AS n`)[0]!.n;

describe("pg lease, caller clock (the SQLite store's exact instants)", () => {
  let store: PgLeaseStore;
  beforeEach(async () => {
    await t.db.$client`DELETE FROM leases`;
    store = createPgLeaseStore(t.db, { clock: 'caller' });
  });

  test('a free lease is taken with its expiry; the holder renews it forward', async () => {
    expect(await store.tryAcquire('poller', 'a', T0, 1000)).toBe(true);
    expect(await leaseRows()).toEqual([{ name: 'poller', holder: 'a', expires_at: T0 + 1000 }]);
    expect(await store.tryAcquire('poller', 'a', T0 + 900, 1000)).toBe(true);
    expect(await leaseRows()).toEqual([{ name: 'poller', holder: 'a', expires_at: T0 + 1900 }]);
  });

  test('another holder cannot take it before it expires, nor at the very expiry instant', async () => {
    await store.tryAcquire('poller', 'a', T0, 1000);
    expect(await store.tryAcquire('poller', 'b', T0 + 1, 1000)).toBe(false);
    expect(await store.tryAcquire('poller', 'b', T0 + 1000, 1000)).toBe(false);
    expect(await leaseRows()).toEqual([{ name: 'poller', holder: 'a', expires_at: T0 + 1000 }]);
  });

  test('after expiry another holder steals it, and the old holder can no longer renew', async () => {
    await store.tryAcquire('poller', 'a', T0, 1000);
    expect(await store.tryAcquire('poller', 'b', T0 + 1001, 1000)).toBe(true);
    expect(await leaseRows()).toEqual([{ name: 'poller', holder: 'b', expires_at: T0 + 2001 }]);
    expect(await store.tryAcquire('poller', 'a', T0 + 1002, 1000)).toBe(false);
    expect((await leaseRows())[0]!.holder).toBe('b');
  });

  test('release only by the holder; names are independent', async () => {
    await store.tryAcquire('poller', 'a', T0, 1000);
    expect(await store.tryAcquire('other', 'b', T0, 1000)).toBe(true);
    await store.release('poller', 'b');
    expect((await leaseRows()).map((r) => r.holder)).toEqual(['b', 'a']);
    await store.release('poller', 'a');
    expect((await leaseRows()).map((r) => r.name)).toEqual(['other']);
    // Released: anyone takes it at once, long before the old expiry.
    expect(await store.tryAcquire('poller', 'b', T0 + 1, 1000)).toBe(true);
  });
});

describe('pg lease, database clock (the default)', () => {
  beforeEach(async () => {
    await t.db.$client`DELETE FROM leases`;
  });

  test('the expiry is the server clock plus the TTL, whatever `now` the caller passes', async () => {
    const store = createPgLeaseStore(t.db);
    const before = await dbNowMs();
    expect(await store.tryAcquire('poller', 'a', 0, 30_000)).toBe(true);
    const after = await dbNowMs();
    const [row] = await leaseRows();
    expect(row!.expires_at).toBeGreaterThanOrEqual(before + 30_000);
    expect(row!.expires_at).toBeLessThanOrEqual(after + 30_000);
  });

  test('a replica whose clock runs far ahead cannot steal a live lease', async () => {
    const a = createPgLeaseStore(replicas[0]!);
    const b = createPgLeaseStore(replicas[1]!);
    expect(await a.tryAcquire('poller', 'a', T0, 30_000)).toBe(true);
    expect(await b.tryAcquire('poller', 'b', Number.MAX_SAFE_INTEGER / 2, 30_000)).toBe(false);
    expect(await a.tryAcquire('poller', 'a', 0, 30_000)).toBe(true);
    expect((await leaseRows())[0]!.holder).toBe('a');
  });

  test('once the lease has run out on the server clock, another replica takes it; release only by the holder', async () => {
    const a = createPgLeaseStore(replicas[0]!);
    const b = createPgLeaseStore(replicas[1]!);
    await a.tryAcquire('poller', 'a', 0, 30_000);
    await b.release('poller', 'b');
    expect(await leaseRows()).toHaveLength(1);
    // The lease's time passes: its expiry moved into the server's past.
    await t.db.$client`UPDATE leases SET expires_at = expires_at - 60000`;
    expect(await b.tryAcquire('poller', 'b', 0, 30_000)).toBe(true);
    expect(await a.tryAcquire('poller', 'a', 0, 30_000)).toBe(false);
    await a.release('poller', 'a');
    expect((await leaseRows())[0]!.holder).toBe('b');
    await b.release('poller', 'b');
    expect(await leaseRows()).toHaveLength(0);
  });

  test('3 replicas racing for an expired lease, many times: exactly one wins each round', async () => {
    const stores = replicas.map((r) => createPgLeaseStore(r));
    for (let round = 0; round < 10; round++) {
      await t.db.$client`UPDATE leases SET expires_at = 0`;
      // Each replica tries with 3 concurrent calls (a holder renewing itself also answers true).
      const tries = await Promise.all(
        stores.flatMap((s, i) =>
          [0, 1, 2].map(async () => ((await s.tryAcquire('poller', `r${i}`, 0, 30_000)) ? `r${i}` : null)),
        ),
      );
      const winners = new Set(tries.filter((w): w is string => w !== null));
      expect(winners.size).toBe(1);
      expect((await leaseRows())[0]!.holder).toBe([...winners][0]!);
    }
  });

  test('3 replicas racing for a lease nobody holds yet: exactly one wins', async () => {
    const stores = replicas.map((r) => createPgLeaseStore(r));
    const tries = await Promise.all(
      stores.map(async (s, i) => ((await s.tryAcquire('fresh', `r${i}`, 0, 30_000)) ? `r${i}` : null)),
    );
    expect(tries.filter((w) => w !== null)).toHaveLength(1);
  });
});

describe('pg rate-limit window', () => {
  let tokenId = 100;
  beforeEach(() => {
    tokenId++;
  });
  const count = async (id: number) => [
    ...(await t.db.$client<
      Array<{ window_start: number; count: number }>
    >`SELECT window_start, count FROM rate_limit_windows WHERE token_id = ${id} ORDER BY window_start`),
  ];

  test('20 concurrent takes from 3 replicas on a key limited to 5: exactly 5 allowed', async () => {
    const now = T0 + 1234;
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => takeSubmitSlotPg(replicas[i % 3]!, tokenId, 5, now)),
    );
    expect(results.filter((r) => r.allowed)).toHaveLength(5);
    expect(results.filter((r) => !r.allowed)).toEqual(
      Array.from({ length: 15 }, () => ({ allowed: false, retryAfterSeconds: retryAfterSecondsAt(now) })),
    );
    expect(await count(tokenId)).toEqual([{ window_start: Math.floor(now / WINDOW_MS) * WINDOW_MS, count: 5 }]);
  });

  test('the window rolls over: the next minute starts a fresh count', async () => {
    const start = Math.floor(T0 / WINDOW_MS) * WINDOW_MS;
    expect(await takeSubmitSlotPg(t.db, tokenId, 2, start)).toEqual({ allowed: true });
    expect(await takeSubmitSlotPg(t.db, tokenId, 2, start + 30_000)).toEqual({ allowed: true });
    expect(await takeSubmitSlotPg(t.db, tokenId, 2, start + 59_999)).toEqual({ allowed: false, retryAfterSeconds: 1 });
    expect(await takeSubmitSlotPg(t.db, tokenId, 2, start + 60_000)).toEqual({ allowed: true });
    expect(await count(tokenId)).toEqual([
      { window_start: start, count: 2 },
      { window_start: start + 60_000, count: 1 },
    ]);
  });

  test('limit 0 is unlimited and writes nothing; keys are independent', async () => {
    for (let i = 0; i < 3; i++) expect(await takeSubmitSlotPg(t.db, tokenId, 0, T0)).toEqual({ allowed: true });
    expect(await count(tokenId)).toEqual([]);
    expect(await takeSubmitSlotPg(t.db, tokenId, 1, T0)).toEqual({ allowed: true });
    expect((await takeSubmitSlotPg(t.db, tokenId, 1, T0)).allowed).toBe(false);
    expect(await takeSubmitSlotPg(t.db, tokenId + 1000, 1, T0)).toEqual({ allowed: true });
  });

  test('a new window sweeps those older than the previous one', async () => {
    const db = await openPgDatabase(t.url, { poolSize: 1 });
    try {
      const start = Math.floor(T0 / WINDOW_MS) * WINDOW_MS + 100 * WINDOW_MS;
      await t.db.$client`INSERT INTO rate_limit_windows (token_id, window_start, count)
        VALUES (${tokenId}, ${start - 2 * WINDOW_MS}, 1), (${tokenId}, ${start - WINDOW_MS}, 1)`;
      await takeSubmitSlotPg(db, tokenId, 5, start + 10);
      expect((await count(tokenId)).map((r) => r.window_start)).toEqual([start - WINDOW_MS, start]);
    } finally {
      await db.$client.end({ timeout: 1 });
    }
  });

  test("Retry-After equals the SQLite store's at every point of a window", async () => {
    const sqlite = memoryDb();
    const start = Math.floor(T0 / WINDOW_MS) * WINDOW_MS + 200 * WINDOW_MS;
    for (const offset of [0, 1, 999, 1000, 1001, 30_500, 58_999, 59_000, 59_001, 59_999]) {
      const now = start + offset;
      const id = tokenId * 100 + offset;
      takeSubmitSlot(sqlite, id, 1, now);
      const second = takeSubmitSlot(sqlite, id, 1, now);
      const expected = second.allowed ? 0 : second.retryAfterSeconds;
      expect(await takeSubmitSlotPg(t.db, id, 1, now)).toEqual({ allowed: true });
      expect(await takeSubmitSlotPg(t.db, id, 1, now)).toEqual({ allowed: false, retryAfterSeconds: expected });
    }
    sqlite.$client.close();
  });
});
