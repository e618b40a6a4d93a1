import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { asc, eq } from 'drizzle-orm';
import type { TaskRow } from '../../src/contract/rows.ts';
import { pgSchema } from '../../src/db/pg/client.ts';
import { enqueueTaskChangePg, recordTaskHookPg } from '../../src/db/pg/outbox.ts';
import { webhookDeliveries } from '../../src/db/schema/index.ts';
import { enqueueTaskChange, recordTaskHook } from '../../src/db/sqlite/outbox.ts';
import { webhookPayloadOf } from '../../src/domain/webhooks.ts';
import { MAX_DELIVERY_ATTEMPTS, retryDelayMs } from '../../src/domain/webhooks-sign.ts';
import { createPoller, type Poller } from '../../src/jobs/poller.ts';
import { createWebhookWorker, type WebhookWorker } from '../../src/jobs/webhooks.ts';
import { ManualClock } from '../../src/lib/clock.ts';
import { SIM_FAIL_REASON, type Simulator, startSimulator } from '../../src/simulator/index.ts';
import type { TestUser } from '../helpers/factories.ts';
import { addChannel, addTask, addUser } from '../helpers/rows.ts';
import { ROOT_HEADERS, startTestServer, type TestServer } from '../helpers/server.ts';
import {
  type ReceivedHook,
  startWebhookReceiver,
  verifySignature,
  type WebhookReceiver,
} from '../helpers/webhook-receiver.ts';

/**
 * Signed webhooks (SPEC §15) end to end: the relay and the poller write task changes into the
 * outbox, the worker POSTs them to a real receiver on a loopback port. One ManualClock drives the
 * simulator's lifecycle, the poller and the worker's backoff, so nothing here sleeps.
 */

const STEP = 1000;
const SECRET = 'sim-secret-hooks';
const clock = new ManualClock(1_790_000_000_000);
let sim: Simulator;
let server: TestServer;
let poller: Poller;
let worker: WebhookWorker;
let receiver: WebhookReceiver;

interface KeyedUser {
  user: TestUser;
  tokenId: number;
  secret: string;
  relay: Record<string, string>;
}

async function trpc(path: string, headers: Record<string, string>, input?: unknown, srv = server): Promise<any> {
  const res =
    input === undefined || path.endsWith('list')
      ? await fetch(
          `${srv.url}/trpc/${path}${input === undefined ? '' : `?input=${encodeURIComponent(JSON.stringify(input))}`}`,
          { headers },
        )
      : await fetch(`${srv.url}/trpc/${path}`, {
          method: 'POST',
          headers: { ...headers, 'content-type': 'application/json' },
          body: JSON.stringify(input),
        });
  const json = (await res.json()) as { result?: { data: unknown }; error?: unknown };
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status} ${JSON.stringify(json.error)}`);
  return json.result?.data;
}

/** A funded user whose API key comes from token.create, as a client gets it (with its secret). */
async function keyedUser(): Promise<KeyedUser> {
  const user = await addUser(server.handle, { quota: 10_000_000 });
  const key = await trpc('token.create', user.headers, { name: 'hooks', unlimited_quota: true });
  return { user, tokenId: key.id, secret: key.webhook_secret, relay: { authorization: `Bearer ${key.key}` } };
}

async function submit(k: KeyedUser, body: Record<string, unknown>) {
  const res = await fetch(`${server.url}/mj/submit/imagine`, {
    method: 'POST',
    headers: { ...k.relay, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as any };
}

type Delivery = typeof webhookDeliveries.$inferSelect;

/** The deliveries of a task, in id order, on either database. */
async function deliveriesOf(taskId: number, srv = server): Promise<Delivery[]> {
  const h = srv.handle;
  if (h.kind === 'sqlite')
    return h.db
      .select()
      .from(webhookDeliveries)
      .where(eq(webhookDeliveries.taskId, taskId))
      .orderBy(asc(webhookDeliveries.id))
      .all();
  const t = pgSchema.webhookDeliveries;
  return (await h.db.select().from(t).where(eq(t.taskId, taskId)).orderBy(asc(t.id))) as Delivery[];
}

/** The ids of the tasks hooked by `column` (a token or a user). */
async function hookedTaskIds(column: 'token_id' | 'user_id', id: number): Promise<number[]> {
  return (
    await server.sql<{ taskId: number }>(
      `SELECT task_id AS "taskId" FROM task_webhooks WHERE ${column} = $1 ORDER BY task_id`,
      id,
    )
  ).map((r) => r.taskId);
}

const hooksAt = (path: string): ReceivedHook[] => receiver.received.filter((r) => r.path === path);

/** A finished task with a hook and `changes` queued deliveries, written as the poller would. */
async function hookedTask(k: KeyedUser, url: string, changes = 1, srv = server): Promise<TaskRow> {
  const task = await addTask(srv.handle, {
    userId: k.user.id,
    tokenId: k.tokenId,
    progress: '100%',
    status: 'SUCCESS',
  });
  const hook = { taskId: task.id, userId: k.user.id, tokenId: k.tokenId, url };
  const h = srv.handle;
  if (h.kind === 'sqlite') {
    h.db.transaction((tx) => {
      recordTaskHook(tx, hook);
      for (let i = 0; i < changes; i++) enqueueTaskChange(tx, [task.id], clock.now(), webhookPayloadOf(clock.now()));
    });
  } else {
    await h.db.$client.begin(async (tx) => {
      await recordTaskHookPg(tx, hook);
      for (let i = 0; i < changes; i++)
        await enqueueTaskChangePg(tx, [task.id], clock.now(), webhookPayloadOf(clock.now()));
    });
  }
  return task;
}

/** Poll and deliver, a step at a time, until the task is finished and nothing of it is pending. */
async function runUntilSettled(taskId: number) {
  for (let i = 0; i < 40; i++) {
    await poller.runOnce();
    await worker.runOnce();
    const rows = await deliveriesOf(taskId);
    const done = rows.some((d) => (JSON.parse(d.payload) as { progress: string }).progress === '100%');
    if (done && rows.every((d) => d.status !== 'pending')) return rows;
    clock.advance(STEP);
  }
  throw new Error('task did not settle');
}

async function metricValue(outcome: string): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`, { headers: ROOT_HEADERS })).text();
  const m = new RegExp(`^mjgw_webhook_deliveries_total\\{outcome="${outcome}"\\} (\\d+)`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

beforeAll(async () => {
  sim = await startSimulator({ secret: SECRET, clock, stepMs: STEP, imageSize: 32 });
  server = await startTestServer({ clock, env: { WEBHOOK_ALLOW_PRIVATE: 'true' } });
  await addChannel(server.handle, sim.url, { key: SECRET });
  poller = createPoller(server.deps);
  worker = createWebhookWorker(server.deps);
  receiver = startWebhookReceiver();
});

afterAll(async () => {
  await worker.stop();
  await poller.stop();
  await receiver.stop();
  await server.stop();
  await sim.stop();
});

describe('webhook deliveries', () => {
  test('every change of a task arrives in order, signed, ending with SUCCESS/100%', async () => {
    const k = await keyedUser();
    const other = await keyedUser();
    const hook = `${receiver.url}/hooks/lifecycle?client=1`;
    const sub = await submit(k, { prompt: 'a lighthouse at dusk', notifyHook: hook });
    expect(sub.status).toBe(200);
    const mjId = sub.json.result as string;
    // The hook is the gateway's to call: the upstream never sees it.
    const forwarded = sim.requests.find(
      (r) => r.path === '/mj/submit/imagine' && (r.body as { prompt?: string }).prompt === 'a lighthouse at dusk',
    );
    expect(forwarded?.body).not.toHaveProperty('notifyHook');
    const [taskId] = (await hookedTaskIds('token_id', k.tokenId)) as [number];

    const rows = await runUntilSettled(taskId);
    expect(rows.every((d) => d.status === 'delivered' && d.attempts === 1)).toBe(true);
    const got = hooksAt('/hooks/lifecycle');
    expect(got.map((h) => h.deliveryId)).toEqual(rows.map((d) => `dlv_${d.id}`));
    const bodies = got.map(
      (h) => JSON.parse(h.body) as { id: string; status: string; progress: string; imageUrl: string },
    );
    expect(bodies.length).toBeGreaterThanOrEqual(4);
    expect(bodies.every((b) => b.id === mjId)).toBe(true);
    const progress = bodies.map((b) => Number.parseInt(b.progress, 10));
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(bodies.at(-1)).toMatchObject({
      status: 'SUCCESS',
      progress: '100%',
      imageUrl: `${server.deps.serverAddress()}/mj/image/${mjId}`,
    });
    expect(bodies.slice(0, -1).every((b) => b.progress !== '100%')).toBe(true);
    for (const h of got) {
      expect(h.contentType).toBe('application/json');
      expect(verifySignature(k.secret, h.signature!, h.body, clock.now() / 1000)).toBe(true);
      expect(verifySignature(other.secret, h.signature!, h.body, clock.now() / 1000)).toBe(false);
      expect(verifySignature(k.secret, h.signature!, `${h.body} `, clock.now() / 1000)).toBe(false);
    }

    // webhook.list: the owner sees them, another user does not, an admin can filter by user.
    const own = await trpc('webhook.list', k.user.headers, { page_size: 100 });
    expect(own.total).toBe(rows.length);
    expect(own.items[0]).toMatchObject({
      url: hook,
      mj_id: mjId,
      task_id: taskId,
      status: 'delivered',
      attempts: 1,
      last_error: '',
    });
    expect((await trpc('webhook.list', other.user.headers, {})).total).toBe(0);
    expect((await trpc('webhook.list', ROOT_HEADERS, { user_id: k.user.id })).total).toBe(rows.length);
  });

  test('a failure the poller writes is delivered last, with its reason', async () => {
    const k = await keyedUser();
    const sub = await submit(k, { prompt: 'a broken dream --sim-fail', notifyHook: `${receiver.url}/hooks/fail` });
    const [taskId] = (await hookedTaskIds('token_id', k.tokenId)) as [number];
    await runUntilSettled(taskId);
    const last = JSON.parse(hooksAt('/hooks/fail').at(-1)!.body);
    expect(last).toMatchObject({
      id: sub.json.result,
      status: 'FAILURE',
      progress: '100%',
      failReason: SIM_FAIL_REASON,
    });
  });

  test('a submit the upstream rejects is delivered once as FAILURE', async () => {
    const k = await keyedUser();
    sim.setFault('http500');
    try {
      await submit(k, { prompt: 'refused at once', notifyHook: `${receiver.url}/hooks/rejected` });
    } finally {
      sim.setFault('none');
    }
    await worker.runOnce();
    const got = hooksAt('/hooks/rejected');
    expect(got).toHaveLength(1);
    expect(JSON.parse(got[0]!.body)).toMatchObject({ status: 'FAILURE', progress: '100%' });
  });

  test('a process that is not the poller leader sends nothing; the leader sends the same row', async () => {
    const k = await keyedUser();
    const task = await hookedTask(k, `${receiver.url}/hooks/standby`, 1);
    const standby = createWebhookWorker(server.deps, { mayDeliver: () => false });
    expect(await standby.runOnce()).toEqual({ delivered: 0, retried: 0, failed: 0 });
    expect(hooksAt('/hooks/standby')).toHaveLength(0);
    expect((await deliveriesOf(task.id))[0]).toMatchObject({ status: 'pending', attempts: 0 });
    await worker.runOnce();
    expect(hooksAt('/hooks/standby')).toHaveLength(1);
  });

  test('a receiver answering 500 twice gets the third attempt with the same delivery id, and later changes wait', async () => {
    const k = await keyedUser();
    const task = await hookedTask(k, `${receiver.url}/hooks/retry`, 2);
    const [first, second] = await deliveriesOf(task.id);
    receiver.answer(500, 500);
    await worker.runOnce();
    await worker.runOnce(); // not due yet, and the second change must not overtake the first
    expect(hooksAt('/hooks/retry')).toHaveLength(1);
    clock.advance(retryDelayMs(1));
    await worker.runOnce();
    expect((await deliveriesOf(task.id))[0]).toMatchObject({ status: 'pending', attempts: 2, lastError: 'HTTP 500' });
    clock.advance(retryDelayMs(2));
    await worker.runOnce();
    await worker.runOnce();
    const ids = hooksAt('/hooks/retry').map((h) => h.deliveryId);
    expect(ids).toEqual([`dlv_${first!.id}`, `dlv_${first!.id}`, `dlv_${first!.id}`, `dlv_${second!.id}`]);
    expect((await deliveriesOf(task.id)).map((d) => [d.status, d.attempts])).toEqual([
      ['delivered', 3],
      ['delivered', 1],
    ]);
  });

  test('redirects are not followed, and after 8 failed attempts the delivery is failed with the last error', async () => {
    const k = await keyedUser();
    const task = await hookedTask(k, `${receiver.url}/hooks/dead`);
    const failedBefore = await metricValue('failed');
    const retriesBefore = await metricValue('retry');
    receiver.answer(302, ...Array<number>(MAX_DELIVERY_ATTEMPTS).fill(500));
    await worker.runOnce();
    expect((await deliveriesOf(task.id))[0]!.lastError).toBe('HTTP 302 (redirects are not followed)');
    for (let attempt = 1; attempt < MAX_DELIVERY_ATTEMPTS; attempt++) {
      clock.advance(retryDelayMs(attempt));
      await worker.runOnce();
    }
    expect((await deliveriesOf(task.id))[0]).toMatchObject({
      status: 'failed',
      attempts: MAX_DELIVERY_ATTEMPTS,
      lastError: 'HTTP 500',
    });
    expect(hooksAt('/hooks/dead')).toHaveLength(MAX_DELIVERY_ATTEMPTS);
    expect(hooksAt('/elsewhere')).toHaveLength(0);
    clock.advance(retryDelayMs(MAX_DELIVERY_ATTEMPTS) * 2);
    await worker.runOnce();
    expect(hooksAt('/hooks/dead')).toHaveLength(MAX_DELIVERY_ATTEMPTS);
    expect(await metricValue('failed')).toBe(failedBefore + 1);
    expect(await metricValue('retry')).toBe(retriesBefore + MAX_DELIVERY_ATTEMPTS - 1);
  });

  test('a private hook URL with WEBHOOK_ALLOW_PRIVATE=false is never requested and fails with its reason', async () => {
    const strict = await startTestServer({ clock });
    try {
      const strictWorker = createWebhookWorker(strict.deps);
      const user = await addUser(strict.handle);
      const key = await trpc('token.create', user.headers, { name: 'strict' }, strict);
      const k: KeyedUser = { user, tokenId: key.id, secret: key.webhook_secret, relay: {} };
      const port = new URL(receiver.url).port;
      const byAddress = await hookedTask(k, `${receiver.url}/hooks/private`, 1, strict);
      const byName = await hookedTask(k, `http://localhost:${port}/hooks/private`, 1, strict);
      await strictWorker.runOnce();
      expect(hooksAt('/hooks/private')).toHaveLength(0);
      const row = async (id: number) => (await deliveriesOf(id, strict))[0];
      expect(await row(byAddress.id)).toMatchObject({
        status: 'failed',
        attempts: 0,
        lastError: 'refused: address 127.0.0.1 is not public',
      });
      expect(await row(byName.id)).toMatchObject({ status: 'failed', attempts: 0 });
      expect((await row(byName.id))!.lastError).toMatch(/^refused: localhost resolves to .*, which is not public$/);
      // A name that does not resolve is a failed attempt (retried), not a refusal.
      const unresolved = await hookedTask(k, 'http://hooks.invalid/x', 1, strict);
      const offline = createWebhookWorker(strict.deps, { lookup: async () => Promise.reject(new Error('ENOTFOUND')) });
      await offline.runOnce();
      expect(await row(unresolved.id)).toMatchObject({
        status: 'pending',
        attempts: 1,
        lastError: 'cannot resolve hooks.invalid: ENOTFOUND',
      });
    } finally {
      await strict.stop();
    }
  });

  test('a delivery whose API key was deleted is failed, never sent unsigned', async () => {
    const k = await keyedUser();
    const task = await hookedTask(k, `${receiver.url}/hooks/keyless`);
    await trpc('token.delete', k.user.headers, { id: k.tokenId });
    await worker.runOnce();
    expect(hooksAt('/hooks/keyless')).toHaveLength(0);
    expect((await deliveriesOf(task.id))[0]).toMatchObject({
      status: 'failed',
      attempts: 0,
      lastError: `API key ${k.tokenId} no longer exists`,
    });
  });

  test('notifyHook is validated at submit and ignored while mj_webhooks_enabled is off', async () => {
    const k = await keyedUser();
    for (const notifyHook of ['ftp://example.com/x', 'not a url', `https://example.com/${'a'.repeat(2048)}`, 42]) {
      const res = await submit(k, { prompt: 'hooked', notifyHook });
      expect(res.status).toBe(400);
      expect(res.json.description).toContain('notifyHook');
    }
    expect(await hookedTaskIds('user_id', k.user.id)).toHaveLength(0);
    await server.deps.options.set('mj_webhooks_enabled', false);
    try {
      const res = await submit(k, { prompt: 'unhooked', notifyHook: `${receiver.url}/hooks/off` });
      expect(res.status).toBe(200);
    } finally {
      await server.deps.options.set('mj_webhooks_enabled', true);
    }
    expect(await hookedTaskIds('user_id', k.user.id)).toHaveLength(0);
  });

  test('token.create returns the secret, token.list masks it, token.update rotates it', async () => {
    const k = await keyedUser();
    expect(k.secret).toMatch(/^whsec_[A-Za-z0-9]{32}$/);
    const listed = (await trpc('token.list', k.user.headers, {})).items[0];
    expect(listed.webhook_secret).not.toBe(k.secret);
    expect(listed.webhook_secret).toStartWith('whsec_');
    expect(listed.webhook_secret).not.toContain(k.secret.slice(6, 20));
    const rotated = await trpc('token.update', k.user.headers, { id: k.tokenId, rotate_webhook_secret: true });
    expect(rotated.webhook_secret).toMatch(/^whsec_[A-Za-z0-9]{32}$/);
    expect(rotated.webhook_secret).not.toBe(k.secret);
    await hookedTask(k, `${receiver.url}/hooks/rotated`);
    await worker.runOnce();
    const [h] = hooksAt('/hooks/rotated');
    expect(verifySignature(rotated.webhook_secret, h!.signature!, h!.body, clock.now() / 1000)).toBe(true);
    // The outgoing secret still signs for 24 h (tests/integration/webhook-rotation.test.ts covers the overlap's end).
    expect(verifySignature(k.secret, h!.signature!, h!.body, clock.now() / 1000)).toBe(true);
  });
});
