import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { and, eq } from 'drizzle-orm';
import { channels, logs, tasks } from '../../src/db/schema/index.ts';
import { NOTIFY_SECRET_ROW, NotifySecrets, notifySecretsOf } from '../../src/domain/upstream-push.ts';
import { createWebhookWorker, type WebhookWorker } from '../../src/jobs/webhooks.ts';
import { type Simulator, startSimulator } from '../../src/simulator/index.ts';
import {
  createTestApiKey,
  createTestChannel,
  createTestUser,
  getTask,
  getUserQuota,
  insertTask,
} from '../helpers/factories.ts';
import { ROOT_HEADERS, startTestServer, type TestServer, waitFor } from '../helpers/server.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.ts';

/**
 * Push from the upstream (SPEC §16) end to end on SQLite: the real simulator pushes each change to
 * the hook the gateway forwarded, and no poller runs here (UPDATE_TASK=false and none is built),
 * so every change seen comes from the push path.
 */

const SECRET = 'sim-secret-push';
let sim: Simulator;
let server: TestServer;
let worker: WebhookWorker;
let receiver: WebhookReceiver;
let channelId: number;

/** A capture upstream: records each submit body and answers code 1 with a new id. */
function captureUpstream() {
  const bodies: Array<Record<string, unknown>> = [];
  let n = 0;
  const srv = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    async fetch(req) {
      bodies.push((await req.json()) as Record<string, unknown>);
      return Response.json({
        code: 1,
        description: 'Submit success',
        result: `cap${Date.now()}${++n}`,
        properties: {},
      });
    },
  });
  return { url: `http://127.0.0.1:${srv.port}`, bodies, stop: () => srv.stop(true) };
}

async function submit(headers: Record<string, string>, body: Record<string, unknown>, srv = server): Promise<string> {
  const res = await fetch(`${srv.url}/mj/submit/imagine`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as { code: number; result: string };
  expect(json.code).toBe(1);
  return json.result;
}

const taskByMjId = (mjId: string) => server.db.select().from(tasks).where(eq(tasks.mjId, mjId)).get();
const refundRows = (taskId: number) =>
  server.db
    .select()
    .from(logs)
    .where(and(eq(logs.taskId, taskId), eq(logs.type, 6)))
    .all();

async function notify(path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

async function hookPath(id = channelId): Promise<string> {
  return `/mj/notify/${id}/${await notifySecretsOf(server.deps.store.options).secretFor(id)}`;
}

beforeAll(async () => {
  sim = await startSimulator({ secret: SECRET, stepMs: 30, imageSize: 32 });
  server = await startTestServer({ env: { WEBHOOK_ALLOW_PRIVATE: 'true', MJ_UPSTREAM_NOTIFY_ENABLED: 'true' } });
  channelId = createTestChannel(server.db, sim.url, { key: SECRET });
  worker = createWebhookWorker(server.deps);
  receiver = startWebhookReceiver();
});

afterAll(async () => {
  await worker.stop();
  await receiver.stop();
  await server.stop();
  await sim.stop();
});

describe('upstream push (SPEC §16)', () => {
  test('a pushed task reaches SUCCESS without any poll; the client hook gets only the signed webhook', async () => {
    const user = createTestUser(server.db, { quota: 10_000_000 });
    const res = await fetch(`${server.url}/trpc/token.create`, {
      method: 'POST',
      headers: { ...user.headers, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'push', unlimited_quota: true }),
    });
    const created = ((await res.json()) as { result: { data: { key: string } } }).result.data;
    const key = { headers: { authorization: `Bearer ${created.key}` } };
    const mjId = await submit(key.headers, { prompt: 'a harbour at night', notifyHook: `${receiver.url}/client/a` });
    const done = await waitFor(
      () => (taskByMjId(mjId)?.status === 'SUCCESS' ? taskByMjId(mjId) : null),
      'the pushed SUCCESS',
    );
    expect(done.progress).toBe('100%');
    expect(done.imageUrl).toContain(sim.url);
    // The live listing shows it (the same row the REST listing reads).
    const listing = (await (
      await fetch(`${server.url}/api/mj/?mj_id=${mjId}`, { headers: ROOT_HEADERS })
    ).json()) as any;
    expect(listing.data.items[0].status).toBe('SUCCESS');
    // The client's hook: the gateway's signed deliveries only, the final state last.
    for (
      let i = 0;
      i < 20 &&
      receiver.received
        .filter((r) => r.path === '/client/a')
        .at(-1)
        ?.body.includes('"SUCCESS"') !== true;
      i++
    ) {
      await worker.runOnce();
    }
    const got = receiver.received.filter((r) => r.path === '/client/a');
    expect(got.length).toBeGreaterThan(0);
    expect(got.every((r) => r.signature?.startsWith('t=') && r.deliveryId !== null)).toBe(true);
    expect(JSON.parse(got.at(-1)!.body).status).toBe('SUCCESS');
  });

  test('a failed task pushed twice at once (a replay) is refunded exactly once', async () => {
    const user = createTestUser(server.db, { quota: 10_000_000 });
    const key = createTestApiKey(server.db, user.id);
    const mjId = await submit(key.headers, { prompt: 'a broken dream --sim-fail' });
    const row = await waitFor(
      () => (taskByMjId(mjId)?.status === 'FAILURE' ? taskByMjId(mjId) : null),
      'the pushed FAILURE',
    );
    expect(getUserQuota(server.db, user.id)).toBe(10_000_000);
    const failure = { id: mjId, status: 'FAILURE', progress: '100%', failReason: 'replayed', action: 'IMAGINE' };
    const answers = await Promise.all([0, 1, 2, 3].map(() => hookPath().then((p) => notify(p, failure))));
    expect(answers.map((r) => r.status)).toEqual([204, 204, 204, 204]);
    expect(refundRows(row.id)).toHaveLength(1);
    expect(getUserQuota(server.db, user.id)).toBe(10_000_000);
    expect(getTask(server.db, row.id)!.failReason).toBe(row.failReason);
  });

  test('a forged or replayed callback never moves a finished task back or refunds it', async () => {
    const user = createTestUser(server.db, { quota: 1_000_000 });
    const task = insertTask(server.db, {
      userId: user.id,
      channelId,
      status: 'SUCCESS',
      progress: '100%',
      quota: 50_000,
      imageUrl: 'http://x/1.png',
    });
    for (const body of [
      { id: task.mjId, status: 'FAILURE', progress: '100%', failReason: 'forged' },
      { id: task.mjId, status: 'IN_PROGRESS', progress: '40%' },
    ]) {
      expect((await notify(await hookPath(), body)).status).toBe(204);
    }
    const after = getTask(server.db, task.id)!;
    expect([after.status, after.progress, after.quota, after.failReason]).toEqual(['SUCCESS', '100%', 50_000, '']);
    expect(refundRows(task.id)).toHaveLength(0);
    expect(getUserQuota(server.db, user.id)).toBe(1_000_000);
  });

  test('an unfinished task is moved on through the poller rules: bounded fields, refund once on failure', async () => {
    const user = createTestUser(server.db, { quota: 1_000_000 });
    const task = insertTask(server.db, {
      userId: user.id,
      channelId,
      status: 'SUBMITTED',
      progress: '0%',
      quota: 50_000,
    });
    const long = 'x'.repeat(20_000);
    expect(
      (
        await notify(await hookPath(), {
          id: task.mjId,
          status: 'IN_PROGRESS',
          progress: '40%',
          promptEn: long,
          startTime: 1e30,
        })
      ).status,
    ).toBe(204);
    const mid = getTask(server.db, task.id)!;
    expect([mid.status, mid.progress, mid.promptEn.length, mid.startTime]).toEqual(['IN_PROGRESS', '40%', 8192, 0]);
    expect(
      (
        await notify(await hookPath(), {
          id: task.mjId,
          status: 'FAILURE',
          progress: '100%',
          failReason: 'banned prompt',
        })
      ).status,
    ).toBe(204);
    const end = getTask(server.db, task.id)!;
    expect([end.status, end.progress, end.quota, end.failReason]).toEqual(['FAILURE', '100%', 0, 'banned prompt']);
    expect(refundRows(task.id).map((r) => r.quota)).toEqual([50_000]);
    expect(getUserQuota(server.db, user.id)).toBe(1_050_000);
  });

  test('wrong secret or channel is 401 and changes nothing; unknown task 404; over 1 MiB 413; bad JSON 400', async () => {
    const user = createTestUser(server.db, { quota: 1_000_000 });
    const task = insertTask(server.db, {
      userId: user.id,
      channelId,
      status: 'SUBMITTED',
      progress: '0%',
      quota: 50_000,
    });
    const other = createTestChannel(server.db, 'http://127.0.0.1:9', { key: 'k' });
    const failure = { id: task.mjId, status: 'FAILURE', progress: '100%', failReason: 'forged' };
    const secret = (await hookPath()).split('/').at(-1)!;
    for (const path of [
      `/mj/notify/${channelId}/${'A'.repeat(43)}`,
      `/mj/notify/${channelId}/x`,
      `/mj/notify/${other}/${secret}`,
      `/mj/notify/999999/${await notifySecretsOf(server.deps.store.options).secretFor(999999)}`,
      `/mj/notify/abc/${secret}`,
    ]) {
      const res = await notify(path, failure);
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({ error: 'invalid_notify_secret' });
    }
    expect(getTask(server.db, task.id)!.status).toBe('SUBMITTED');
    // The task is on channelId, not on `other`: that channel's valid hook finds no such task.
    expect((await notify(await hookPath(other), failure)).status).toBe(404);
    const unknown = await notify(await hookPath(), { id: '1999999999999999', status: 'SUCCESS', progress: '100%' });
    expect(unknown.status).toBe(404);
    const big = await notify(await hookPath(), {
      id: task.mjId,
      status: 'IN_PROGRESS',
      progress: '1%',
      pad: 'y'.repeat(1024 * 1024),
    });
    expect(big.status).toBe(413);
    expect(((await big.json()) as { error: string }).error).toBe('request body too large');
    expect((await notify(await hookPath(), '{not json')).status).toBe(400);
    expect((await notify(await hookPath(), { status: 'SUCCESS' })).status).toBe(400);
    expect(getTask(server.db, task.id)!.status).toBe('SUBMITTED');
    // The metrics count every callback by outcome (the pushes of the tests above were applied).
    const text = await (await fetch(`${server.url}/metrics`, { headers: ROOT_HEADERS })).text();
    const count = (outcome: string) =>
      Number(new RegExp(`^mjgw_upstream_notify_total\\{outcome="${outcome}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
    expect(count('invalid_secret')).toBe(5);
    // At least the two above: a simulator's first push may also arrive before its submit's answer
    // named the task (the next push, or the poller, brings that state).
    expect(count('unknown_task')).toBeGreaterThanOrEqual(2);
    expect(count('invalid')).toBe(3);
    expect(count('applied')).toBeGreaterThan(5);
    expect(count('unchanged')).toBeGreaterThanOrEqual(5);
  });

  test("forwarded jobs carry the hook of the channel that takes them, never the client's; none while the option is off", async () => {
    const cap = captureUpstream();
    const down = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response('no', { status: 502 }) });
    const srv = await startTestServer({
      env: { MJ_UPSTREAM_NOTIFY_ENABLED: 'true', UPSTREAM_NOTIFY_BASE_URL: 'https://gw.example/' },
    });
    try {
      const first = createTestChannel(srv.db, `http://127.0.0.1:${down.port}`, { priority: 10 });
      const second = createTestChannel(srv.db, cap.url, { priority: 1 });
      const user = createTestUser(srv.db, { quota: 10_000_000 });
      const key = createTestApiKey(srv.db, user.id, { unlimited: true });
      await submit(key.headers, { prompt: 'a moth', notifyHook: 'https://client.example/hook' }, srv);
      const secrets = notifySecretsOf(srv.deps.store.options);
      expect(cap.bodies[0]!.notifyHook).toBe(
        `https://gw.example/mj/notify/${second}/${await secrets.secretFor(second)}`,
      );
      expect(await secrets.secretFor(first)).not.toBe(await secrets.secretFor(second));
      // Another process on the same database derives the same secret; a rotated channel key changes nothing.
      const before = await secrets.secretFor(second);
      srv.db.update(channels).set({ key: 'rotated' }).where(eq(channels.id, second)).run();
      expect(await new NotifySecrets(srv.deps.store.options).secretFor(second)).toBe(before);
      expect((await srv.deps.store.options.all()).filter((r) => r.key === NOTIFY_SECRET_ROW)).toHaveLength(1);
      // admin.option.list never shows the server secret.
      const opts = await (await fetch(`${srv.url}/trpc/admin.option.list`, { headers: ROOT_HEADERS })).text();
      expect(opts).toContain('mj_upstream_notify_enabled');
      expect(opts).not.toContain(NOTIFY_SECRET_ROW);
      await srv.deps.options.set('mj_upstream_notify_enabled', false);
      await submit(key.headers, { prompt: 'a moth again', notifyHook: 'https://client.example/hook' }, srv);
      expect(cap.bodies[1]!.notifyHook).toBeUndefined();
    } finally {
      await srv.stop();
      await cap.stop();
      await down.stop(true);
    }
  });
});
