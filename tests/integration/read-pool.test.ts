import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { createApp } from '../../src/app.ts';
import { sqliteInThreadListing, sqliteListingPool } from '../../src/backend.ts';
import { loadConfig } from '../../src/config.ts';
import { listTasks } from '../../src/db/sqlite/listing.ts';
import type { ListingPool } from '../../src/db/sqlite/listing-pool.ts';
import { createSqliteTaskStore } from '../../src/db/sqlite/task-store.ts';
import { AppError, HTTP_STATUS_OF } from '../../src/domain/errors.ts';
import { silentLogger } from '../../src/lib/logger.ts';
import { type Simulator, startSimulator } from '../../src/simulator/index.ts';
import { createTestApiKey, createTestChannel, createTestUser, type TestUser } from '../helpers/factories.ts';
import { spawnGateway } from '../helpers/process.ts';
import { ROOT_HEADERS, ROOT_TOKEN, startTestServer, type TestServer, waitFor } from '../helpers/server.ts';

/**
 * Listings on the worker pool (READ_WORKERS=2) over a real WAL file: the same answers as the
 * in-thread listing, writes visible at once, /healthz free while listings run, dead workers replaced.
 */
let srv: TestServer;
let pool: ListingPool;
/** The same app and deps over the same file, listing in-thread: the reference answers. */
let reference: { url: string; stop: () => Promise<void> };
let alice: TestUser;
let bob: TestUser;
const ROWS = 6_000;
const BASE = 1_712_016_000_000;

beforeAll(async () => {
  srv = await startTestServer({ env: { READ_WORKERS: '2' }, listing: 'pool' });
  pool = srv.listing as ListingPool;
  alice = createTestUser(srv.db);
  bob = createTestUser(srv.db);
  const insert = srv.db.$client.prepare(
    'INSERT INTO tasks (user_id, channel_id, mj_id, submit_time, prompt, image_url, status) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)',
  );
  srv.db.$client.transaction(() => {
    for (let i = 0; i < ROWS; i++) {
      // Every third row is written out of time order (a late sync), and mj ids repeat.
      const t = i % 3 === 0 ? BASE + ((i * 7919) % ROWS) * 60_000 : BASE + i * 60_000;
      insert.run(
        i % 4 === 3 ? bob.id : alice.id,
        i % 5,
        `mj${i % 1500}`,
        t,
        `prompt ${i}`,
        i % 2 ? `https://cdn.example/${i}.png` : '',
        i % 7 ? 'SUCCESS' : 'FAILURE',
      );
    }
  })();
  const app = createApp({
    ...srv.deps,
    listing: sqliteInThreadListing(srv.db),
    taskStore: createSqliteTaskStore(srv.db, sqliteInThreadListing(srv.db)),
  }).listen({ port: 0, hostname: '127.0.0.1' });
  reference = {
    url: `http://127.0.0.1:${app.server?.port}`,
    stop: async () => {
      await app.stop(true);
    },
  };
  await waitFor(() => pool.readyWorkers() === 2, 'both listing workers');
}, 30_000);

afterAll(async () => {
  await reference?.stop();
  await srv?.stop();
});

const mid = BASE + 2_000 * 60_000;
const late = BASE + 4_500 * 60_000;
const SHAPES: Array<Record<string, string | number>> = [
  {},
  { p: 2, page_size: 7 },
  { page_size: 100, p: 25 },
  { page_size: 100, p: 61 },
  { p: 400 },
  { mj_id: 'mj42' },
  { start_timestamp: mid },
  { end_timestamp: mid },
  { start_timestamp: mid, end_timestamp: late, page_size: 50 },
  { start_timestamp: Math.floor(mid / 1000), end_timestamp: Math.floor(late / 1000), p: 3 },
];
const ADMIN_SHAPES: Array<Record<string, string | number>> = [
  ...SHAPES,
  { channel_id: 2 },
  { channel_id: 3, page_size: 100, p: 12 },
  { channel_id: 1, start_timestamp: mid, end_timestamp: late },
  { channel_id: 4, mj_id: 'mj44' },
];

async function text(base: string, path: string, headers: Record<string, string>): Promise<string> {
  const res = await fetch(`${base}${path}`, { headers });
  expect(res.status).toBe(200);
  // The content type is part of the answer the two servers must agree on.
  return `${res.headers.get('content-type')}\n${await res.text()}`;
}

const qs = (q: Record<string, string | number>) =>
  new URLSearchParams(Object.entries(q).map(([k, v]) => [k, String(v)])).toString();
const trpcPath = (proc: string, q: Record<string, string | number>) =>
  `/trpc/${proc}?input=${encodeURIComponent(JSON.stringify(q))}`;

describe('listings through the pool', () => {
  test('REST and tRPC answer exactly as the in-thread listing, for every filter shape', async () => {
    let nonEmpty = 0;
    for (const [headers, shapes, rest, proc] of [
      [alice.headers, SHAPES, '/api/mj/self', 'mj.self'],
      [bob.headers, SHAPES, '/api/mj/self', 'mj.self'],
      [ROOT_HEADERS, ADMIN_SHAPES, '/api/mj/', 'mj.all'],
    ] as const) {
      for (const q of shapes) {
        const got = await text(srv.url, `${rest}?${qs(q)}`, headers);
        expect(got).toBe(await text(reference.url, `${rest}?${qs(q)}`, headers));
        const [type, body] = got.split('\n', 2) as [string, string];
        expect(type).toBe('application/json;charset=utf-8');
        if ((JSON.parse(body) as { data: { items: unknown[] } }).data.items.length) nonEmpty++;
        expect(await text(srv.url, trpcPath(proc, q), headers)).toBe(
          await text(reference.url, trpcPath(proc, q), headers),
        );
      }
    }
    // The shapes reach rows (a comparison of empty pages would prove nothing).
    expect(nonEmpty).toBeGreaterThan(20);
  });

  test('the pool returns the very rows listTasks returns on the main connection', async () => {
    const f = { userId: alice.id, end: mid };
    for (const paging of [{}, { p: 9, page_size: 100 }]) {
      expect(await pool.list(f, paging)).toEqual(listTasks(srv.db, f, paging));
    }
  });

  test('a task submitted through the relay is in the very next listing (read-your-writes)', async () => {
    const sim: Simulator = await startSimulator({ secret: 'rp-secret', stepMs: 0 });
    try {
      createTestChannel(srv.db, sim.url, { key: 'rp-secret' });
      const user = createTestUser(srv.db, { quota: 10_000_000 });
      const key = createTestApiKey(srv.db, user.id, { unlimited: true });
      for (let i = 0; i < 5; i++) {
        const res = await fetch(`${srv.url}/mj/submit/imagine`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...key.headers },
          body: JSON.stringify({ prompt: `fox ${i}` }),
        });
        const mjId = ((await res.json()) as { result: string }).result;
        const list = JSON.parse((await text(srv.url, '/api/mj/self', user.headers)).split('\n')[1]!) as {
          data: { items: Array<{ mj_id: string }>; total: number };
        };
        expect(list.data.items[0]?.mj_id).toBe(mjId);
        expect(list.data.total).toBe(i + 1);
      }
    } finally {
      await sim.stop();
    }
  });

  test('workers hold no read transaction between listings (a full checkpoint is never blocked)', async () => {
    for (const q of SHAPES) await pool.list({ userId: alice.id, start: q.start_timestamp as number | undefined }, q);
    await pool.listJson({}, { page_size: 100 }, { admin: true, policy: { forward: true, serverAddress: srv.url } });
    // TRUNCATE waits for every reader to leave the WAL; busy = 1 would mean a worker kept a snapshot open.
    const ck = srv.db.$client.query('PRAGMA wal_checkpoint(TRUNCATE)').get() as {
      busy: number;
      log: number;
      checkpointed: number;
    };
    expect(ck).toEqual({ busy: 0, log: 0, checkpointed: 0 });
  });

  test('/healthz keeps answering while clients run the heaviest listing back to back', async () => {
    const HEALTH = 20;
    let healthy = 0;
    let listings = 0;
    const heavy = `${srv.url}/api/mj/self?end_timestamp=${late}&page_size=100`;
    const client = async () => {
      // Bounded, so a health check that never answers fails the test instead of hanging it.
      for (let i = 0; i < 500 && healthy < HEALTH; i++) {
        const res = await fetch(heavy, { headers: alice.headers });
        expect(res.status).toBe(200);
        await res.arrayBuffer();
        listings++;
      }
    };
    const clients = Promise.all([client(), client(), client(), client()]);
    let listingsAtLastHealth = 0;
    for (let i = 0; i < HEALTH; i++) {
      const res = await fetch(`${srv.url}/healthz`);
      expect(await res.text()).toBe('ok');
      listingsAtLastHealth = listings;
      healthy++;
    }
    await clients;
    // All health answers came while the listing clients were still going.
    expect(listingsAtLastHealth).toBeLessThan(4 * 500);
    expect(listings).toBeGreaterThan(0);
  });
});

describe('worker faults', () => {
  test('a worker that dies mid-listing fails that listing, is replaced, and the next listing succeeds', async () => {
    const before = pool.restarts;
    const inFlight = pool.list({ userId: alice.id, end: late }, { page_size: 100 });
    pool.terminateWorkerForTest(0);
    pool.terminateWorkerForTest(1);
    await expect(inFlight).rejects.toThrow(/listing worker/);
    await waitFor(() => pool.restarts >= before + 2 && pool.readyWorkers() === 2, 'replacement workers');
    const body = JSON.parse((await text(srv.url, '/api/mj/self?page_size=3', alice.headers)).split('\n')[1]!) as {
      data: { items: unknown[] };
    };
    expect(body.data.items).toHaveLength(3);
  });

  test('a pool that cannot open the database answers 500 with the request id, never hangs', async () => {
    const broken = sqliteListingPool({
      path: join(srv.dbPath, '..', 'missing', 'x.db'),
      size: 1,
      logger: silentLogger,
    });
    const app = createApp({ ...srv.deps, listing: broken, taskStore: createSqliteTaskStore(srv.db, broken) }).listen({
      port: 0,
      hostname: '127.0.0.1',
    });
    try {
      const res = await fetch(`http://127.0.0.1:${app.server?.port}/api/mj/self`, { headers: alice.headers });
      expect(res.status).toBe(500);
      const id = res.headers.get('x-request-id');
      expect(id).toBeTruthy();
      expect(((await res.json()) as { message: string }).message).toBe(`internal error (request id ${id})`);
    } finally {
      await app.stop(true);
      await broken.close();
    }
  });
});

test('listings beyond the waiting line are refused with 503, not queued without bound', async () => {
  const small = sqliteListingPool({ path: srv.dbPath, size: 1, maxQueue: 1, logger: silentLogger });
  try {
    await waitFor(() => small.readyWorkers() === 1, 'the worker');
    const f = { userId: alice.id };
    const settled = await Promise.allSettled([
      small.list(f, {}),
      small.list(f, {}),
      small.list(f, {}),
      small.list(f, {}),
    ]);
    // One runs, one waits, the other two are refused at once.
    expect(settled.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'rejected']);
    const refused = settled[2] as PromiseRejectedResult;
    expect(refused.reason).toBeInstanceOf(AppError);
    expect((refused.reason as AppError).kind).toBe('UNAVAILABLE');
    expect(HTTP_STATUS_OF.UNAVAILABLE).toBe(503);
  } finally {
    await small.close();
  }
});

test('READ_WORKERS: default min(2, cores), 0 = in-thread, anything else named', () => {
  expect(loadConfig({}).readWorkers).toBe(Math.min(2, availableParallelism()));
  expect(loadConfig({ READ_WORKERS: '0' }).readWorkers).toBe(0);
  expect(loadConfig({ READ_WORKERS: '4' }).readWorkers).toBe(4);
  expect(() => loadConfig({ READ_WORKERS: 'two' })).toThrow(
    'invalid configuration: READ_WORKERS must be a whole number',
  );
  expect(() => loadConfig({ READ_WORKERS: '65' })).toThrow(
    'invalid configuration: READ_WORKERS must be between 0 and 64',
  );
});

test('the real server with READ_WORKERS=2 lists through its pool and exits 0 on SIGTERM', async () => {
  const dir = mkdtempSync(join(srv.dbPath, '..', 'proc-'));
  try {
    const p = spawnGateway({
      HOST: '127.0.0.1',
      PORT: '0',
      DATABASE_PATH: join(dir, 'g.db'),
      UPDATE_TASK: 'false',
      READ_WORKERS: '2',
      INITIAL_ROOT_ACCESS_TOKEN: ROOT_TOKEN,
    });
    const url = (await p.waitForOutput(/listening on (http:\/\/\S+)/, 'the listening line'))[1]!;
    const res = await fetch(`${url}/api/mj/?page_size=5`, { headers: ROOT_HEADERS });
    expect(((await res.json()) as { data: { total: number } }).data.total).toBe(0);
    expect(await p.stop()).toBe(0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 30_000);
