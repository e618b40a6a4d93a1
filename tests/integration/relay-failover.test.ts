import { afterAll, afterEach, beforeAll, describe, expect, test } from 'bun:test';
import { addTask } from '../helpers/rows.ts';
import { IMAGINE_PRICE, LOG_TYPE, type RelayWorld, relayWorld } from './relay-fixture.ts';

/**
 * Channel failover inside one submit (SPEC §15), against real simulators and real refusing
 * upstreams: a new job moves on when its channel surely did not take it, is charged once, and the
 * task records the channel that accepted it; timeouts, dropped connections and follow-ups never move.
 */

/** A port nothing listens on: bind one, then close it. */
async function closedPort(): Promise<number> {
  const s = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response('x') });
  const port = s.port ?? 1;
  await s.stop(true);
  return port;
}

/** A real upstream that refuses every submit with midjourney-proxy code `code`, counting the calls. */
function refusingUpstream(code: number) {
  let calls = 0;
  const server = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    fetch: () => {
      calls++;
      return Response.json({ code, description: `refused with ${code}`, result: null, properties: {} });
    },
  });
  return { url: `http://127.0.0.1:${server.port}`, calls: () => calls, stop: () => server.stop(true) };
}

function submitsOf(w: RelayWorld, i: number): number {
  return w.sims[i]!.requests.filter((r) => r.method === 'POST' && r.path.includes('/submit/')).length;
}

async function channelRow(w: RelayWorld, id: number) {
  return (await w.channel(id))!;
}

async function failovers(w: RelayWorld, from: number, reason: string): Promise<number> {
  const metric = await w.srv.deps.metrics.registry.getSingleMetric('mjgw_submit_failovers_total')!.get();
  return metric.values.find((v) => v.labels.from_channel === String(from) && v.labels.reason === reason)?.value ?? 0;
}

/** sim0 is tried first (priority 10), then sim1 (priority 0). */
async function orderSims(w: RelayWorld): Promise<void> {
  await w.setChannel(w.channelIds[0]!, { priority: 10, status: 1 });
  await w.setChannel(w.channelIds[1]!, { priority: 0, status: 1 });
  for (const sim of w.sims) {
    sim.setFault('none');
    sim.clearRequests();
  }
}

describe('submit failover: the job lands on the next channel, charged once', () => {
  let w: RelayWorld;
  const extra: number[] = [];
  beforeAll(async () => {
    w = await relayWorld({ sims: 2 });
  });
  afterEach(async () => {
    for (const id of extra.splice(0)) await w.deleteChannel(id);
  });
  afterAll(() => w.stop());

  /** The job went to `expected` (a simulator index): charged once, no refund, the task and accounting there. */
  async function expectLandedOn(
    c: { userId: number },
    start: number,
    res: { status: number; json: any },
    expected: number,
  ) {
    expect(res.status).toBe(200);
    expect(res.json.code).toBe(1);
    expect(await w.quota(c.userId)).toBe(start - IMAGINE_PRICE);
    expect(await w.logCount(c.userId, LOG_TYPE.consume)).toBe(1);
    expect(await w.logCount(c.userId, LOG_TYPE.refund)).toBe(0);
    const row = (await w.task(res.json.result as string))!;
    expect(row.channelId).toBe(w.channelIds[expected]!);
    expect(row.quota).toBe(IMAGINE_PRICE);
    expect(submitsOf(w, expected)).toBe(1);
  }

  test('a channel that refuses the connection: the next one takes the job', async () => {
    await orderSims(w);
    const dead = await w.addChannel(`http://127.0.0.1:${await closedPort()}`, { key: 'k', priority: 100 });
    extra.push(dead);
    const c = await w.caller(1_000_000);
    const usedBefore = (await channelRow(w, w.channelIds[0]!)).usedQuota;
    const res = await w.post('/mj/submit/imagine', { prompt: 'a fox' }, c.headers);
    await expectLandedOn(c, 1_000_000, res, 0);
    expect(submitsOf(w, 1)).toBe(0);
    // The charge's channel accounting moved with the task.
    expect((await channelRow(w, dead)).usedQuota).toBe(0);
    expect((await channelRow(w, w.channelIds[0]!)).usedQuota).toBe(usedBefore + IMAGINE_PRICE);
    expect(await failovers(w, dead, 'connect')).toBe(1);
  });

  test('HTTP 5xx from the first channel: the second takes the job', async () => {
    await orderSims(w);
    w.sims[0]!.setFault('http500');
    const c = await w.caller(1_000_000);
    const res = await w.post('/mj/submit/imagine', { prompt: 'a fox' }, c.headers);
    expect(submitsOf(w, 0)).toBe(1);
    await expectLandedOn(c, 1_000_000, res, 1);
    expect(await failovers(w, w.channelIds[0]!, 'http_5xx')).toBe(1);
  });

  test('code 23 (queue full) from the first channel: the next takes the job; the full channel stays enabled', async () => {
    await orderSims(w);
    const full = refusingUpstream(23);
    try {
      const id = await w.addChannel(full.url, { key: 'k', priority: 100 });
      extra.push(id);
      const c = await w.caller(1_000_000);
      const res = await w.post('/mj/submit/imagine', { prompt: 'a fox' }, c.headers);
      expect(full.calls()).toBe(1);
      await expectLandedOn(c, 1_000_000, res, 0);
      expect((await channelRow(w, id)).status).toBe(1);
      expect(await failovers(w, id, 'code_23')).toBe(1);
    } finally {
      await full.stop();
    }
  });

  test('code 3 (no account): the channel is auto-disabled and the next takes the job', async () => {
    await orderSims(w);
    const noAccount = refusingUpstream(3);
    try {
      const id = await w.addChannel(noAccount.url, { key: 'k', priority: 100 });
      extra.push(id);
      const c = await w.caller(1_000_000);
      const res = await w.post('/mj/submit/imagine', { prompt: 'a fox' }, c.headers);
      await expectLandedOn(c, 1_000_000, res, 0);
      expect((await channelRow(w, id)).status).toBe(3);
    } finally {
      await noAccount.stop();
    }
  });

  test('every channel fails: the client gets the last answer, refunded once, the task on the last channel', async () => {
    await orderSims(w);
    w.sims[0]!.setFault('http500');
    w.sims[1]!.setFault('http500');
    const c = await w.caller(1_000_000);
    const res = await w.post('/mj/submit/imagine', { prompt: 'a fox' }, c.headers);
    expect(res.status).toBe(502);
    expect(res.json.description).toBe('unmarshal_response_body_failed');
    expect([submitsOf(w, 0), submitsOf(w, 1)]).toEqual([1, 1]);
    expect(await w.quota(c.userId)).toBe(1_000_000);
    expect(await w.logCount(c.userId, LOG_TYPE.consume)).toBe(1);
    expect(await w.logCount(c.userId, LOG_TYPE.refund)).toBe(1);
    const [row] = await w.tasksOf(c.userId);
    expect(row!.channelId).toBe(w.channelIds[1]!);
    expect(row!.status).toBe('FAILURE');
    expect(row!.quota).toBe(0);
  });

  test('a connection dropped after the request was sent is not retried', async () => {
    await orderSims(w);
    w.sims[0]!.setFault('drop');
    const c = await w.caller(1_000_000);
    const res = await w.post('/mj/submit/imagine', { prompt: 'a fox' }, c.headers);
    expect(res.status).toBe(502);
    expect(submitsOf(w, 0)).toBe(1);
    expect(submitsOf(w, 1)).toBe(0);
    expect(await w.quota(c.userId)).toBe(1_000_000);
    expect(await w.logCount(c.userId, LOG_TYPE.refund)).toBe(1);
  });

  test('a follow-up whose parent channel is down is refused and refunded, never moved', async () => {
    await orderSims(w);
    const dead = await w.addChannel(`http://127.0.0.1:${await closedPort()}`, { key: 'k', priority: -1 });
    extra.push(dead);
    const c = await w.caller(1_000_000);
    const parent = await addTask(w.srv.handle, {
      userId: c.userId,
      channelId: dead,
      status: 'SUCCESS',
      progress: '100%',
    });
    const res = await w.post('/mj/submit/change', { taskId: parent.mjId, action: 'UPSCALE', index: 1 }, c.headers);
    expect(res.status).toBe(502);
    expect(res.json.description).toBe('do_request_failed');
    expect([submitsOf(w, 0), submitsOf(w, 1)]).toEqual([0, 0]);
    expect(await w.quota(c.userId)).toBe(1_000_000);
    expect(await w.logCount(c.userId, LOG_TYPE.consume)).toBe(1);
    expect(await w.logCount(c.userId, LOG_TYPE.refund)).toBe(1);
    const child = (await w.tasksOf(c.userId)).find((t) => t.id !== parent.id)!;
    expect(child.channelId).toBe(dead);
  });
});

describe('submit failover: limits', () => {
  test('a timeout is not retried: the second channel receives nothing, refunded once', async () => {
    const w = await relayWorld({ sims: 2, env: { UPSTREAM_TIMEOUT_MS: '300' }, sim: { slowMs: 30_000 } });
    try {
      await orderSims(w);
      const c = await w.caller(1_000_000);
      const res = await w.post('/mj/submit/imagine', { prompt: 'a fox --sim-slow' }, c.headers);
      expect(res.status).toBe(504);
      expect(res.json.description).toBe('upstream_timeout');
      expect(submitsOf(w, 0)).toBe(1);
      expect(submitsOf(w, 1)).toBe(0);
      expect(await w.quota(c.userId)).toBe(1_000_000);
      expect(await w.logCount(c.userId, LOG_TYPE.refund)).toBe(1);
      expect((await w.tasksOf(c.userId))[0]!.channelId).toBe(w.channelIds[0]!);
    } finally {
      await w.stop();
    }
  });

  test('SUBMIT_FAILOVER=0: no failover', async () => {
    const w = await relayWorld({ sims: 2, env: { SUBMIT_FAILOVER: '0' } });
    try {
      await orderSims(w);
      w.sims[0]!.setFault('http500');
      const c = await w.caller(1_000_000);
      const res = await w.post('/mj/submit/imagine', { prompt: 'a fox' }, c.headers);
      expect(res.status).toBe(502);
      expect(submitsOf(w, 0)).toBe(1);
      expect(submitsOf(w, 1)).toBe(0);
      expect(await w.quota(c.userId)).toBe(1_000_000);
      expect(await w.logCount(c.userId, LOG_TYPE.refund)).toBe(1);
    } finally {
      await w.stop();
    }
  });

  test('SUBMIT_FAILOVER=1: at most one more channel is tried', async () => {
    const w = await relayWorld({ sims: 2, env: { SUBMIT_FAILOVER: '1' } });
    const dead = await w.addChannel(`http://127.0.0.1:${await closedPort()}`, { key: 'k', priority: 100 });
    try {
      await orderSims(w);
      w.sims[0]!.setFault('http500');
      const c = await w.caller(1_000_000);
      const res = await w.post('/mj/submit/imagine', { prompt: 'a fox' }, c.headers);
      expect(res.status).toBe(502);
      expect(submitsOf(w, 0)).toBe(1);
      expect(submitsOf(w, 1)).toBe(0);
      expect((await w.tasksOf(c.userId))[0]!.channelId).toBe(w.channelIds[0]!);
      expect(await w.logCount(c.userId, LOG_TYPE.refund)).toBe(1);
      expect((await channelRow(w, dead)).usedQuota).toBe(0);
    } finally {
      await w.stop();
    }
  });
});
