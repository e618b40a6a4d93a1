import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { createTRPCClient, httpBatchLink, TRPCClientError } from '@trpc/client';
import { and, eq } from 'drizzle-orm';
import { channels, logs } from '../../src/db/schema/index.ts';
import { ManualClock } from '../../src/lib/clock.ts';
import { type Simulator, startSimulator } from '../../src/simulator/index.ts';
import type { AppRouter } from '../../src/trpc/routers/index.ts';
import {
  createTestApiKey,
  createTestChannel,
  createTestUser,
  getTask,
  getUserQuota,
  insertTask,
  type TestUser,
} from '../helpers/factories.ts';
import { ROOT_HEADERS, startTestServer, type TestServer } from '../helpers/server.ts';

/**
 * Reconciliation (`admin.task.resync`, `admin.task.fail`) and the money timeline (`mj.ledger`),
 * SPEC §16, on SQLite against the real simulator. One ManualClock drives the simulator and the
 * gateway; no poller runs and push is off, so a task moves only when a test asks.
 */

const STEP = 1000;
const SECRET = 'sim-secret-admin';
const PRICE = 50_000;
const clock = new ManualClock(1_795_000_000_000);
let sim: Simulator;
let server: TestServer;
let channelId: number;

const client = (headers: Record<string, string>) =>
  createTRPCClient<AppRouter>({ links: [httpBatchLink({ url: `${server.url}/trpc`, headers: () => headers })] });
const root = () => client(ROOT_HEADERS);

async function codeOf(p: Promise<unknown>): Promise<[string, string]> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TRPCClientError);
  const e = err as TRPCClientError<AppRouter>;
  return [(e.data as { code: string }).code, e.message];
}

async function imagine(key: { headers: Record<string, string> }, prompt: string): Promise<string> {
  const res = await fetch(`${server.url}/mj/submit/imagine`, {
    method: 'POST',
    headers: { ...key.headers, 'content-type': 'application/json' },
    body: JSON.stringify({ prompt }),
  });
  const json = (await res.json()) as { code: number; result: string };
  expect(json.code).toBe(1);
  return json.result;
}

const refundRows = (taskId: number) =>
  server.db
    .select()
    .from(logs)
    .where(and(eq(logs.taskId, taskId), eq(logs.type, 6)))
    .all();

function funded(): { user: TestUser; key: ReturnType<typeof createTestApiKey> } {
  const user = createTestUser(server.db, { quota: 10 * PRICE });
  return { user, key: createTestApiKey(server.db, user.id, { remainQuota: 10 * PRICE }) };
}

beforeAll(async () => {
  sim = await startSimulator({ secret: SECRET, clock, stepMs: STEP, imageSize: 16, notify: false });
  server = await startTestServer({ clock });
  channelId = createTestChannel(server.db, sim.url, { key: SECRET });
});

afterAll(async () => {
  await server.stop();
  await sim.stop();
});

describe('admin.task.resync', () => {
  test('fetches the task from its channel now and applies it as the poller would', async () => {
    const { key } = funded();
    const mjId = await imagine(key, 'a quiet pond');
    clock.advance(3 * STEP);
    const mid = await root().admin.task.resync.mutate({ mj_id: mjId });
    expect(mid.status).toBe('IN_PROGRESS');
    expect(mid.mj_id).toBe(mjId);
    expect(mid.channel_id).toBe(channelId);
    clock.advance(20 * STEP);
    const done = await root().admin.task.resync.mutate({ mj_id: mjId });
    expect([done.status, done.progress]).toEqual(['SUCCESS', '100%']);
    // A finished task: nothing asked, answered as stored.
    sim.clearRequests();
    expect((await root().admin.task.resync.mutate({ mj_id: mjId })).status).toBe('SUCCESS');
    expect(sim.requests).toHaveLength(0);
  });

  test('a task of a deleted channel is ended and refunded as a tick ends it; unknown is NOT_FOUND; users are FORBIDDEN', async () => {
    const { user } = funded();
    const gone = createTestChannel(server.db, 'http://127.0.0.1:9', { key: 'k' });
    const task = insertTask(server.db, {
      userId: user.id,
      channelId: gone,
      status: 'SUBMITTED',
      progress: '0%',
      quota: PRICE,
    });
    server.db.delete(channels).where(eq(channels.id, gone)).run();
    const ended = await root().admin.task.resync.mutate({ mj_id: task.mjId });
    expect([ended.status, ended.fail_reason]).toEqual(['FAILURE', `channel ${gone} no longer exists`]);
    expect(refundRows(task.id)).toHaveLength(1);
    expect((await codeOf(root().admin.task.resync.mutate({ mj_id: 'nope' })))[0]).toBe('NOT_FOUND');
    expect((await codeOf(client(user.headers).admin.task.resync.mutate({ mj_id: task.mjId })))[0]).toBe('FORBIDDEN');
  });
});

test('admin.task.resync of a task whose channel does not answer is BAD_GATEWAY, the task unchanged', async () => {
  const { user } = funded();
  const closed = createTestChannel(server.db, 'http://127.0.0.1:9', { key: 'k', status: 2 });
  const task = insertTask(server.db, {
    userId: user.id,
    channelId: closed,
    status: 'SUBMITTED',
    progress: '0%',
    quota: PRICE,
    submitTime: clock.now(),
  });
  const [code, message] = await codeOf(root().admin.task.resync.mutate({ mj_id: task.mjId }));
  expect(code).toBe('BAD_GATEWAY');
  expect(message).toContain(task.mjId);
  expect(getTask(server.db, task.id)!.status).toBe('SUBMITTED');
});

describe('admin.task.fail', () => {
  test('ends an unfinished task as FAILURE 100% with the reason, refunding exactly once whoever calls at the same time', async () => {
    const { user, key } = funded();
    const mjId = await imagine(key, 'a stuck job');
    expect(getUserQuota(server.db, user.id)).toBe(9 * PRICE);
    const calls = await Promise.allSettled(
      [0, 1, 2, 3, 4].map(() => root().admin.task.fail.mutate({ mj_id: mjId, reason: 'upstream lost it' })),
    );
    const won = calls.filter((c) => c.status === 'fulfilled');
    expect(won).toHaveLength(1);
    const item = (
      won[0] as PromiseFulfilledResult<Awaited<ReturnType<ReturnType<typeof root>['admin']['task']['fail']['mutate']>>>
    ).value;
    expect([item.status, item.progress, item.fail_reason, item.quota]).toEqual([
      'FAILURE',
      '100%',
      'upstream lost it',
      0,
    ]);
    for (const c of calls) {
      if (c.status === 'rejected') expect((c.reason as TRPCClientError<AppRouter>).message).toBe('task_finished');
    }
    const refunds = refundRows(item.id);
    expect(refunds).toHaveLength(1);
    expect(refunds[0]!.quota).toBe(PRICE);
    expect(refunds[0]!.content).toContain('upstream lost it');
    expect(refunds[0]!.content).toContain('admin 1');
    expect(getUserQuota(server.db, user.id)).toBe(10 * PRICE);
    expect(await codeOf(root().admin.task.fail.mutate({ mj_id: mjId, reason: 'again' }))).toEqual([
      'BAD_REQUEST',
      'task_finished',
    ]);
    expect((await codeOf(root().admin.task.fail.mutate({ mj_id: 'nope', reason: 'x' })))[0]).toBe('NOT_FOUND');
    expect((await codeOf(root().admin.task.fail.mutate({ mj_id: mjId, reason: '  ' })))[0]).toBe('BAD_REQUEST');
    expect((await codeOf(client(user.headers).admin.task.fail.mutate({ mj_id: mjId, reason: 'x' })))[0]).toBe(
      'FORBIDDEN',
    );
    expect(getTask(server.db, item.id)!.failReason).toBe('upstream lost it');
  });
});

describe('mj.ledger', () => {
  test('charge, failover move and refund, oldest first; Σ charges − Σ refunds is the task quota at each step', async () => {
    const down = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response('down', { status: 503 }) });
    const first = createTestChannel(server.db, `http://127.0.0.1:${down.port}`, { priority: 100 });
    try {
      const { user, key } = funded();
      const mjId = await imagine(key, 'a moving target');
      server.db.update(channels).set({ status: 2 }).where(eq(channels.id, first)).run();
      const own = client(user.headers);
      const before = await own.mj.ledger.query({ mj_id: mjId });
      expect(before.items.map((i) => i.kind)).toEqual(['charge', 'move']);
      expect(before.items[0]).toMatchObject({ kind: 'charge', quota: PRICE });
      expect(before.items[1]).toMatchObject({
        kind: 'move',
        quota: 0,
        channel_id: channelId,
        note: `moved from channel ${first} to channel ${channelId}`,
      });
      const sum = (items: typeof before.items) =>
        items.reduce((s, i) => s + (i.kind === 'charge' ? i.quota : i.kind === 'refund' ? -i.quota : 0), 0);
      expect(sum(before.items)).toBe((await own.mj.get.query({ mj_id: mjId })).quota);
      await root().admin.task.fail.mutate({ mj_id: mjId, reason: 'operator gave up' });
      const after = await own.mj.ledger.query({ mj_id: mjId });
      expect(after.items.map((i) => i.kind)).toEqual(['charge', 'move', 'refund']);
      expect(after.items[2]).toMatchObject({ quota: PRICE, channel_id: channelId });
      expect(after.items[2]!.note).toContain('operator gave up');
      expect(after.items.map((i) => i.time)).toEqual([...after.items.map((i) => i.time)].sort((a, b) => a - b));
      expect(sum(after.items)).toBe(0);
      expect((await own.mj.get.query({ mj_id: mjId })).quota).toBe(0);
      // Own task only; admins any.
      const other = createTestUser(server.db, {});
      expect((await codeOf(client(other.headers).mj.ledger.query({ mj_id: mjId })))[0]).toBe('NOT_FOUND');
      expect((await root().mj.ledger.query({ mj_id: mjId })).items).toHaveLength(3);
    } finally {
      await down.stop(true);
    }
  });
});
