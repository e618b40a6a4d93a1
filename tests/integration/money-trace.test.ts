import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { createTRPCClient, httpBatchLink } from '@trpc/client';
import { sql } from 'drizzle-orm';
import { LOG_TYPE } from '../../src/contract/constants.ts';
import { createPoller, type Poller } from '../../src/jobs/poller.ts';
import { ManualClock } from '../../src/lib/clock.ts';
import { createLogger } from '../../src/lib/logger.ts';
import { type Simulator, startSimulator } from '../../src/simulator/index.ts';
import type { AppRouter } from '../../src/trpc/routers/index.ts';
import { createTestChannel } from '../helpers/factories.ts';
import { ROOT_HEADERS, startTestServer, type TestServer, waitFor } from '../helpers/server.ts';

/**
 * Money that can be traced (SPEC §4 logs): a mixed run through the real server and the simulator —
 * accepted, refused and dropped submits, upstream failures, a timeout, an orphan of a crash, admin
 * quota changes up and down in the middle of it — after which the logs alone rebuild every
 * balance, and every charge and refund joins its task by task_id and (once known) by mj_id.
 */

const SECRET = 'sim-secret-money';
const STEP = 1000;
const TASK_TIMEOUT_MS = 30_000;
const UPSTREAM_TIMEOUT_MS = 5_000;
const clock = new ManualClock(1_790_000_000_000);
const lines: Array<Record<string, unknown>> = [];

let sim: Simulator;
let srv: TestServer;
let poller: Poller;
/** The gateway's fetch holds a submit whose body contains this until `release()` (a crash mid-submit). */
const CRASH_MARK = 'crash-mid-submit';
let release: () => void = () => {};

type Client = ReturnType<typeof createTRPCClient<AppRouter>>;
const client = (headers: Record<string, string>): Client =>
  createTRPCClient<AppRouter>({ links: [httpBatchLink({ url: `${srv.url}/trpc`, headers: () => headers })] });

interface Member {
  id: number;
  username: string;
  key: string;
}

async function member(
  admin: Client,
  username: string,
  quota: number | undefined,
  remainQuota?: number,
): Promise<Member> {
  const u = await admin.admin.user.create.mutate({ username, ...(quota === undefined ? {} : { quota }) });
  const own = client({ authorization: `Bearer ${u.access_token}`, 'new-api-user': String(u.id) });
  const k = await own.token.create.mutate(
    remainQuota === undefined ? { name: 'k', unlimited_quota: true } : { name: 'k', remain_quota: remainQuota },
  );
  return { id: u.id, username, key: k.key };
}

async function imagine(
  m: Member,
  prompt: string,
): Promise<{ status: number; body: { code: number; result: unknown } }> {
  const res = await fetch(`${srv.url}/mj/submit/imagine`, {
    method: 'POST',
    headers: { authorization: `Bearer ${m.key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ prompt }),
  });
  return { status: res.status, body: (await res.json()) as { code: number; result: unknown } };
}

interface Balance {
  id: number;
  username: string;
  quota: number;
  granted: number;
  consumed: number;
  refunded: number;
}

function balances(): Balance[] {
  return srv.db.all<Balance>(sql`
    SELECT u.id, u.username, u.quota,
      COALESCE((SELECT SUM(quota) FROM logs WHERE user_id = u.id AND type = ${LOG_TYPE.system}), 0) AS granted,
      COALESCE((SELECT SUM(quota) FROM logs WHERE user_id = u.id AND type = ${LOG_TYPE.consume}), 0) AS consumed,
      COALESCE((SELECT SUM(quota) FROM logs WHERE user_id = u.id AND type = ${LOG_TYPE.refund}), 0) AS refunded
    FROM users u ORDER BY u.id`);
}

let alice: Member;
let bob: Member;
let carol: Member;
let crashed: Promise<unknown>;

beforeAll(async () => {
  sim = await startSimulator({ secret: SECRET, clock, stepMs: STEP, imageSize: 16 });
  let gate = Promise.resolve();
  const gatedFetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    if (typeof init?.body === 'string' && init.body.includes(CRASH_MARK)) {
      gate = new Promise<void>((r) => (release = r));
      await gate;
    }
    return fetch(input, init);
  }) as typeof fetch;
  srv = await startTestServer({
    clock,
    fetch: gatedFetch,
    logger: createLogger('debug', {}, (line) => lines.push(JSON.parse(line) as Record<string, unknown>)),
    env: { TASK_TIMEOUT_MS: String(TASK_TIMEOUT_MS), UPSTREAM_TIMEOUT_MS: String(UPSTREAM_TIMEOUT_MS) },
  });
  createTestChannel(srv.db, sim.url, { key: SECRET });
  poller = createPoller(srv.deps);
  const admin = client(ROOT_HEADERS);

  alice = await member(admin, 'alice', 1_000_000);
  bob = await member(admin, 'bob', 500_000, 300_000);
  carol = await member(admin, 'carol', undefined);
  await admin.admin.user.update.mutate({ id: carol.id, quota: 200_000 });

  // Accepted, refused by the upstream (24, 23), failing later, hanging until the timeout.
  for (const p of ['a harbour', 'a market --sim-queued', 'a storm --sim-fail', 'a bell --sim-hang'])
    expect((await imagine(alice, p)).body.code).toBe(1);
  expect((await imagine(alice, 'a word --sim-banned')).body.code).toBe(24);
  expect((await imagine(alice, 'a crowd --sim-queue-full')).body.code).toBe(23);
  expect((await imagine(bob, 'a meadow')).body.code).toBe(1);
  expect((await imagine(bob, 'a fire --sim-fail')).body.code).toBe(1);
  sim.setFault('drop');
  expect((await imagine(bob, 'a bridge')).status).toBe(502);
  sim.setFault('none');

  // An admin's change while charges are outstanding: the delta is against the balance at that moment.
  await admin.admin.user.update.mutate({ id: alice.id, quota: 2_000_000 });

  for (let i = 0; i < 12; i++) {
    clock.advance(STEP);
    await poller.runOnce();
  }
  clock.advance(TASK_TIMEOUT_MS);
  await poller.runOnce();
  await admin.admin.user.update.mutate({ id: bob.id, quota: 100_000 });

  // A submit charged and recorded, whose upstream answer never came back before the orphan sweep.
  crashed = imagine(carol, `a ghost ${CRASH_MARK}`);
  await waitFor(
    () =>
      srv.db.all<{ n: number }>(sql`SELECT COUNT(*) AS n FROM tasks WHERE user_id = ${carol.id} AND mj_id = ''`)[0]?.n,
    'the in-flight submit',
  );
  clock.advance(UPSTREAM_TIMEOUT_MS + 30_000);
  await poller.runOnce();
  release();
  await crashed;
  expect((await imagine(carol, 'a lantern')).body.code).toBe(1);
  await admin.admin.user.update.mutate({ id: carol.id, quota: 50_000 });
});

afterAll(async () => {
  await poller.stop();
  await srv.stop();
  await sim.stop();
});

describe('the logs rebuild every balance', () => {
  test('quota = Σ system − Σ consume + Σ refund, for every user', () => {
    const rows = balances();
    expect(rows.map((r) => r.username)).toEqual(['root', 'alice', 'bob', 'carol']);
    for (const r of rows)
      expect({ user: r.username, quota: r.granted - r.consumed + r.refunded }).toEqual({
        user: r.username,
        quota: r.quota,
      });
    const by = Object.fromEntries(rows.map((r) => [r.username, r]));
    // The run really exercised each path: charges, refunds, grants and takings.
    expect(by.alice).toMatchObject({ quota: 2_100_000, consumed: 6 * 50_000, refunded: 4 * 50_000 });
    expect(by.bob).toMatchObject({ quota: 100_000, consumed: 3 * 50_000, refunded: 2 * 50_000 });
    expect(by.carol).toMatchObject({ quota: 50_000, consumed: 2 * 50_000, refunded: 50_000 });
  });

  test('admin changes are signed deltas naming the admin', () => {
    const rows = srv.db.all<{ user_id: number; quota: number; content: string }>(
      sql`SELECT user_id, quota, content FROM logs WHERE type = ${LOG_TYPE.system} ORDER BY id`,
    );
    const aliceRows = rows.filter((r) => r.user_id === alice.id);
    expect(aliceRows.map((r) => r.quota)).toEqual([1_000_000, 2_000_000 - (1_000_000 - 6 * 50_000 + 2 * 50_000)]);
    expect(aliceRows[1]!.content).toBe(`quota set to 2000000 (+${aliceRows[1]!.quota}) by admin 1 (root)`);
    const bobDown = rows.filter((r) => r.user_id === bob.id).at(-1)!;
    expect(bobDown.quota).toBeLessThan(0);
    expect(bobDown.content).toStartWith(`quota set to 100000 (${bobDown.quota}) by admin 1 (root)`);
    expect(rows.filter((r) => r.user_id === carol.id).map((r) => r.quota)).toEqual([
      200_000,
      50_000 - (200_000 - 50_000),
    ]);
  });

  test('an update that leaves the quota as it is writes no row', async () => {
    const count = () =>
      srv.db.all<{ n: number }>(sql`SELECT COUNT(*) AS n FROM logs WHERE type = ${LOG_TYPE.system}`)[0]!.n;
    const before = count();
    const admin = client(ROOT_HEADERS);
    await admin.admin.user.update.mutate({ id: carol.id, quota: 50_000 });
    await admin.admin.user.update.mutate({ id: carol.id, display_name: 'Carol' });
    expect(count()).toBe(before);
    await admin.admin.user.update.mutate({ id: carol.id, quota: 50_001, display_name: 'Carol C.' });
    expect(count()).toBe(before + 1);
    await admin.admin.user.update.mutate({ id: carol.id, quota: 50_000 });
    expect(balances().find((b) => b.id === carol.id)).toMatchObject({ quota: 50_000, granted: 100_000 });
  });
});

describe('every charge and refund joins its task', () => {
  interface Joined {
    log_id: number;
    type: number;
    user_id: number;
    mj_id: string;
    task_id: number;
    task_user: number | null;
    task_mj: string | null;
  }
  const joined = () =>
    srv.db.all<Joined>(sql`
    SELECT l.id AS log_id, l.type, l.user_id, l.mj_id, l.task_id, t.user_id AS task_user, t.mj_id AS task_mj
    FROM logs l LEFT JOIN tasks t ON t.id = l.task_id WHERE l.type IN (${LOG_TYPE.consume}, ${LOG_TYPE.refund})`);

  test('by task_id: every row names an existing task of its user', () => {
    const rows = joined();
    expect(rows.length).toBe(11 + 7);
    for (const r of rows)
      expect({ log: r.log_id, taskUser: r.task_user }).toEqual({ log: r.log_id, taskUser: r.user_id });
  });

  test('by mj_id: every row of a task the upstream named carries its id, and the pair sums to what the task holds', () => {
    for (const r of joined()) expect({ log: r.log_id, mj: r.mj_id }).toEqual({ log: r.log_id, mj: r.task_mj! });
    const named = srv.db.all<{ id: number; mj_id: string; quota: number }>(
      sql`SELECT id, mj_id, quota FROM tasks WHERE mj_id <> ''`,
    );
    expect(named.length).toBe(7);
    for (const t of named) {
      const [money] = srv.db.all<{ charged: number; refunded: number }>(sql`
        SELECT COALESCE(SUM(CASE WHEN type = ${LOG_TYPE.consume} THEN quota END), 0) AS charged,
               COALESCE(SUM(CASE WHEN type = ${LOG_TYPE.refund} THEN quota END), 0) AS refunded
        FROM logs WHERE mj_id = ${t.mj_id}`);
      expect({ task: t.id, holds: money!.charged - money!.refunded }).toEqual({ task: t.id, holds: t.quota });
    }
  });

  test('the orphan of a crash is refunded once, joined by task_id, and logged at warn with its task id', async () => {
    const orphan = srv.db.all<{ id: number; mj_id: string; fail_reason: string; quota: number }>(
      sql`SELECT id, mj_id, fail_reason, quota FROM tasks WHERE user_id = ${carol.id} ORDER BY id LIMIT 1`,
    )[0]!;
    expect(orphan).toMatchObject({ mj_id: '', fail_reason: 'submit did not complete', quota: 0 });
    const logs = srv.db.all<{ type: number; quota: number }>(
      sql`SELECT type, quota FROM logs WHERE task_id = ${orphan.id} ORDER BY id`,
    );
    expect(logs).toEqual([
      { type: LOG_TYPE.consume, quota: 50_000 },
      { type: LOG_TYPE.refund, quota: 50_000 },
    ]);
    const warn = lines.filter((l) => l.msg === 'orphaned submit failed and refunded');
    expect(warn).toEqual([
      expect.objectContaining({
        level: 'warn',
        taskId: orphan.id,
        userId: carol.id,
        refunded: 50_000,
        component: 'poller',
      }),
    ]);
  });
});
