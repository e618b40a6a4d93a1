import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import type { SimFault } from '../../src/simulator/index.ts';
import { type Caller, IMAGINE_PRICE, LOG_TYPE, type RelayWorld, relayWorld } from './relay-fixture.ts';

const PNG =
  'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';
const PNG2 =
  'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';

/** A port nothing listens on: bind one, then close it. */
async function closedPort(): Promise<number> {
  const s = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response('x') });
  const port = s.port ?? 1;
  await s.stop(true);
  return port;
}

describe('relay submit: every route, accepted', () => {
  let w: RelayWorld;
  let c: Caller;
  beforeAll(async () => {
    w = await relayWorld();
  });
  afterAll(() => w.stop());

  const routes: { path: string; body: unknown; action: string; price: number; done?: boolean }[] = [
    { path: '/mj/submit/imagine', body: { prompt: 'a red fox', state: 'st-1' }, action: 'IMAGINE', price: 50_000 },
    { path: '/mj/submit/describe', body: { base64: PNG }, action: 'DESCRIBE', price: 25_000 },
    {
      path: '/mj/submit/blend',
      body: { base64Array: [PNG, PNG2], dimensions: 'SQUARE' },
      action: 'BLEND',
      price: 50_000,
    },
    {
      path: '/mj/submit/shorten',
      body: { prompt: 'a very long prompt about a fox in the snow' },
      action: 'SHORTEN',
      price: 50_000,
    },
    { path: '/mj/submit/video', body: { prompt: 'a fox running', motion: 'low' }, action: 'VIDEO', price: 400_000 },
    { path: '/mj/submit/edits', body: { prompt: 'make it blue', image: PNG }, action: 'EDITS', price: 50_000 },
    {
      path: '/mj/insight-face/swap',
      body: { sourceBase64: PNG, targetBase64: PNG2 },
      action: 'SWAP_FACE',
      price: 25_000,
    },
    {
      path: '/mj/submit/upload-discord-images',
      body: { base64Array: [PNG] },
      action: 'UPLOAD',
      price: 25_000,
      done: true,
    },
  ];

  for (const r of routes) {
    test(`${r.path} charges ${r.price}, forwards, and records the task`, async () => {
      c = await w.caller(1_000_000);
      w.sims[0]!.clearRequests();
      const res = await w.post(r.path, r.body, c.headers);
      expect(res.status).toBe(200);
      expect(res.json.code).toBe(1);
      expect(res.json.properties).toBeObject();
      expect(await w.quota(c.userId)).toBe(1_000_000 - r.price);
      expect(await w.logCount(c.userId, LOG_TYPE.consume)).toBe(1);
      expect(w.sims[0]!.requests.map((q) => [q.method, q.path, q.secret])).toEqual([
        ['POST', r.path, 'sim-secret-alpha'],
      ]);
      const [row] = await w.tasksOf(c.userId);
      expect(row).toBeDefined();
      expect(row!.action).toBe(r.action);
      expect(row!.quota).toBe(r.price);
      expect(row!.code).toBe(1);
      expect(row!.channelId).toBe(w.channelIds[0]!);
      expect(row!.tokenId).toBe(c.tokenId);
      if (r.done) {
        expect(row!.mjId).toBe('');
        expect(row!.status).toBe('SUCCESS');
        expect(row!.progress).toBe('100%');
        expect(Array.isArray(res.json.result)).toBe(true);
      } else {
        expect(row!.mjId).toBe(res.json.result);
        expect(row!.mjId).toMatch(/^\d{16}$/);
        expect(row!.status).toBe('');
        expect(row!.progress).toBe('0%');
      }
    });
  }

  test('the task row keeps the prompt and state of the submit', async () => {
    c = await w.caller();
    const res = await w.post('/mj/submit/imagine', { prompt: 'a grey wolf', state: 'my-state' }, c.headers);
    const row = (await w.task(res.json.result as string))!;
    expect(row.prompt).toBe('a grey wolf');
    expect(row.state).toBe('my-state');
    expect(row.description).toBe(res.json.description);
    expect(row.submitTime).toBeGreaterThan(0);
  });

  test('a mode prefix is forwarded as is, and fetch works under it', async () => {
    c = await w.caller();
    w.sims[0]!.clearRequests();
    const res = await w.post('/mj-fast/mj/submit/imagine', { prompt: 'fast fox' }, c.headers);
    expect(res.status).toBe(200);
    expect(w.sims[0]!.requests[0]!.path).toBe('/mj-fast/mj/submit/imagine');
    const row = (await w.task(res.json.result as string))!;
    expect(row.prompt).toBe('fast fox');
    const f = await w.get(`/mj-fast/mj/task/${res.json.result}/fetch`, c.headers);
    expect(f.status).toBe(200);
    expect(f.json.id).toBe(res.json.result);
  });
});

describe('relay submit: upstream codes and failures', () => {
  let w: RelayWorld;
  beforeAll(async () => {
    w = await relayWorld();
  });
  afterAll(() => w.stop());

  test('code 22 (queued) is accepted, charged, and shown to the client as 1', async () => {
    const c = await w.caller(IMAGINE_PRICE);
    const res = await w.post('/mj/submit/imagine', { prompt: 'fox --sim-queued' }, c.headers);
    expect(res.status).toBe(200);
    expect(res.json.code).toBe(1);
    expect(res.json.properties.numberOfQueues).toBe(1);
    const row = (await w.task(res.json.result as string))!;
    expect(row.code).toBe(22);
    expect(row.quota).toBe(IMAGINE_PRICE);
    expect(row.progress).toBe('0%');
    expect(await w.quota(c.userId)).toBe(0);
  });

  test('code 21 with status SUCCESS is recorded as done with its image, shown as 1', async () => {
    const c = await w.caller(IMAGINE_PRICE);
    const res = await w.post('/mj/submit/imagine', { prompt: 'fox --sim-existed' }, c.headers);
    expect(res.status).toBe(200);
    expect(res.json.code).toBe(1);
    const row = (await w.task(res.json.result as string))!;
    expect(row.code).toBe(21);
    expect(row.status).toBe('SUCCESS');
    expect(row.progress).toBe('100%');
    expect(row.imageUrl).toStartWith(w.sims[0]!.url);
    expect(row.quota).toBe(IMAGINE_PRICE);
    expect(await w.quota(c.userId)).toBe(0);
  });

  const rejected: { flag: string; code: number }[] = [
    { flag: '--sim-queue-full', code: 23 },
    { flag: '--sim-banned', code: 24 },
    { flag: '--sim-code=4', code: 4 },
    { flag: '--sim-code=9', code: 9 },
  ];
  for (const r of rejected) {
    test(`code ${r.code} is rejected: body passed through, charge refunded, task FAILURE`, async () => {
      const c = await w.caller(IMAGINE_PRICE);
      const res = await w.post('/mj/submit/imagine', { prompt: `fox ${r.flag}` }, c.headers);
      expect(res.status).toBe(200);
      expect(res.json.code).toBe(r.code);
      expect(res.json.properties).toBeObject();
      expect(await w.quota(c.userId)).toBe(IMAGINE_PRICE);
      const [row] = await w.tasksOf(c.userId);
      expect(row!.status).toBe('FAILURE');
      expect(row!.progress).toBe('100%');
      expect(row!.quota).toBe(0);
      expect(row!.code).toBe(r.code);
      expect(row!.failReason).toBe(res.json.description);
      expect(await w.logCount(c.userId, LOG_TYPE.consume)).toBe(1);
      expect(await w.logCount(c.userId, LOG_TYPE.refund)).toBe(1);
    });
  }

  test('code 3 is rejected and auto-disables the channel; then no channel is left (503)', async () => {
    const c = await w.caller(IMAGINE_PRICE * 2);
    const res = await w.post('/mj/submit/imagine', { prompt: 'fox --sim-code=3' }, c.headers);
    expect(res.json.code).toBe(3);
    expect(await w.quota(c.userId)).toBe(IMAGINE_PRICE * 2);
    expect((await w.tasksOf(c.userId))[0]!.status).toBe('FAILURE');
    const ch = (await w.channel(w.channelIds[0]!))!;
    expect(ch.status).toBe(3);
    w.sims[0]!.clearRequests();
    const again = await w.post('/mj/submit/imagine', { prompt: 'fox' }, c.headers);
    expect(again.status).toBe(503);
    expect(again.json).toEqual({ code: 3, description: 'no available channel', result: null, properties: {} });
    expect(w.sims[0]!.requests.length).toBe(0);
    expect((await w.tasksOf(c.userId)).length).toBe(1);
    await w.setChannel(w.channelIds[0]!, { status: 1 });
  });

  const faults: Array<[SimFault, string, string]> = [
    ['garbage', 'a non-JSON answer', 'unmarshal_response_body_failed'],
    ['http500', 'an HTTP 500 JSON answer that is not a submit result', 'unmarshal_response_body_failed'],
    ['drop', 'a dropped connection', 'do_request_failed'],
  ];
  for (const [fault, what, description] of faults) {
    test(`${what} is 502 ${description} and refunded`, async () => {
      const c = await w.caller(IMAGINE_PRICE);
      w.sims[0]!.setFault(fault);
      try {
        const res = await w.post('/mj/submit/imagine', { prompt: 'fox' }, c.headers);
        expect(res.status).toBe(502);
        expect(res.json).toEqual({ code: 5, description, result: null, properties: {} });
      } finally {
        w.sims[0]!.setFault('none');
      }
      expect(await w.quota(c.userId)).toBe(IMAGINE_PRICE);
      const [row] = await w.tasksOf(c.userId);
      expect(row!.status).toBe('FAILURE');
      expect(row!.progress).toBe('100%');
      expect(row!.quota).toBe(0);
      expect(row!.failReason).toContain(description);
      expect(await w.logCount(c.userId, LOG_TYPE.refund)).toBe(1);
    });
  }

  test('upstream down (closed port) and no other channel is 502 do_request_failed; task FAILURE, quota back', async () => {
    const dead = await w.addChannel(`http://127.0.0.1:${await closedPort()}`, { key: 'k', priority: 100 });
    // With the simulator's channel enabled the job would fail over to it (SPEC §15).
    await w.setChannel(w.channelIds[0]!, { status: 2 });
    try {
      const c = await w.caller(IMAGINE_PRICE);
      const res = await w.post('/mj/submit/imagine', { prompt: 'fox' }, c.headers);
      expect(res.status).toBe(502);
      expect(res.json).toEqual({ code: 5, description: 'do_request_failed', result: null, properties: {} });
      expect(await w.quota(c.userId)).toBe(IMAGINE_PRICE);
      const [row] = await w.tasksOf(c.userId);
      expect(row!.channelId).toBe(dead);
      expect(row!.status).toBe('FAILURE');
      expect(row!.progress).toBe('100%');
      expect(row!.quota).toBe(0);
      expect(row!.failReason).toStartWith('do_request_failed');
      expect(await w.logCount(c.userId, LOG_TYPE.consume)).toBe(1);
      expect(await w.logCount(c.userId, LOG_TYPE.refund)).toBe(1);
    } finally {
      await w.deleteChannel(dead);
      await w.setChannel(w.channelIds[0]!, { status: 1 });
    }
  });

  test('a wrong channel key (upstream 401, empty body) is rejected and refunded', async () => {
    await w.setChannel(w.channelIds[0]!, { key: 'wrong' });
    try {
      const c = await w.caller(IMAGINE_PRICE);
      const res = await w.post('/mj/submit/imagine', { prompt: 'fox' }, c.headers);
      expect(res.status).toBe(502);
      expect(res.json.code).toBe(5);
      expect(await w.quota(c.userId)).toBe(IMAGINE_PRICE);
      expect((await w.tasksOf(c.userId))[0]!.failReason).toContain('401');
    } finally {
      await w.setChannel(w.channelIds[0]!, { key: 'sim-secret-alpha' });
    }
  });

  test('quota_not_enough: 400, nothing forwarded, no task row, quota untouched', async () => {
    const c = await w.caller(IMAGINE_PRICE - 1);
    w.sims[0]!.clearRequests();
    const res = await w.post('/mj/submit/imagine', { prompt: 'fox' }, c.headers);
    expect(res.status).toBe(400);
    expect(res.json).toEqual({ code: 4, description: 'quota_not_enough', result: null, properties: {} });
    expect(w.sims[0]!.requests.length).toBe(0);
    expect((await w.tasksOf(c.userId)).length).toBe(0);
    expect(await w.quota(c.userId)).toBe(IMAGINE_PRICE - 1);
    expect(await w.logCount(c.userId, LOG_TYPE.consume)).toBe(0);
  });

  test('a limited key is charged too, and refunded on rejection', async () => {
    const c = await w.caller(IMAGINE_PRICE * 3, IMAGINE_PRICE * 2);
    expect((await w.post('/mj/submit/imagine', { prompt: 'fox' }, c.headers)).json.code).toBe(1);
    expect(await w.remainQuota(c.tokenId)).toBe(IMAGINE_PRICE);
    expect((await w.post('/mj/submit/imagine', { prompt: 'fox --sim-banned' }, c.headers)).json.code).toBe(24);
    expect(await w.remainQuota(c.tokenId)).toBe(IMAGINE_PRICE);
    expect(await w.quota(c.userId)).toBe(IMAGINE_PRICE * 2);
  });
});

describe('relay submit: upstream timeout', () => {
  let w: RelayWorld;
  beforeAll(async () => {
    w = await relayWorld({ env: { UPSTREAM_TIMEOUT_MS: '300' }, sim: { slowMs: 3000 } });
  });
  afterAll(() => w.stop());

  test('--sim-slow past UPSTREAM_TIMEOUT_MS is 504 upstream_timeout; task FAILURE, quota back', async () => {
    const c = await w.caller(IMAGINE_PRICE);
    const res = await w.post('/mj/submit/imagine', { prompt: 'fox --sim-slow' }, c.headers);
    expect(res.status).toBe(504);
    expect(res.json).toEqual({ code: 5, description: 'upstream_timeout', result: null, properties: {} });
    expect(await w.quota(c.userId)).toBe(IMAGINE_PRICE);
    const [row] = await w.tasksOf(c.userId);
    expect(row!.status).toBe('FAILURE');
    expect(row!.progress).toBe('100%');
    expect(row!.quota).toBe(0);
    expect(row!.failReason).toStartWith('upstream_timeout');
    expect(await w.logCount(c.userId, LOG_TYPE.refund)).toBe(1);
  });
});

describe('relay submit: no channel at all', () => {
  let w: RelayWorld;
  beforeAll(async () => {
    w = await relayWorld({ sims: 0 });
  });
  afterAll(() => w.stop());

  test('503 code 3 "no available channel", nothing charged', async () => {
    const c = await w.caller(IMAGINE_PRICE);
    const res = await w.post('/mj/submit/imagine', { prompt: 'fox' }, c.headers);
    expect(res.status).toBe(503);
    expect(res.json).toEqual({ code: 3, description: 'no available channel', result: null, properties: {} });
    expect(await w.quota(c.userId)).toBe(IMAGINE_PRICE);
    expect((await w.tasksOf(c.userId)).length).toBe(0);
  });
});
