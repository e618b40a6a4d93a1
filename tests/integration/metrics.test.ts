import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { AUTH_MESSAGES } from '../../src/auth/management.ts';
import { createPoller } from '../../src/jobs/poller.ts';
import { addUser } from '../helpers/rows.ts';
import { ROOT_HEADERS, startTestServer, type TestServer, waitFor } from '../helpers/server.ts';
import { type Caller, IMAGINE_PRICE, type RelayWorld, relayWorld } from './relay-fixture.ts';

/**
 * `GET /metrics` after real traffic: submits through the relay to the simulator, one poll tick
 * and an image fetch; each series is asserted by value. Also the auth of the endpoint and the
 * public mode, on a second server whose registry must not see the first one's numbers.
 */

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parse(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[k!] = v!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** The value of the one sample with this name and these labels (among others); undefined when absent. */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const hits = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (hits.length > 1) throw new Error(`${name} ${JSON.stringify(labels)} matches ${hits.length} samples`);
  return hits[0]?.value;
}

async function scrape(url: string, headers: Record<string, string> = ROOT_HEADERS) {
  const res = await fetch(`${url}/metrics`, { headers });
  const text = await res.text();
  return { res, text, samples: res.status === 200 ? parse(text) : [] };
}

let w: RelayWorld;
let alice: Caller;
let channel: string;
const accepted: string[] = [];
let imageBytes = 0;
let beforePoll: Sample[];
let after: { res: Response; text: string; samples: Sample[] };

beforeAll(async () => {
  w = await relayWorld();
  channel = String(w.channelIds[0]);
  alice = await w.caller(1_000_000);
  const poor = await w.caller(IMAGINE_PRICE - 1);
  for (const prompt of ['a fox', 'a hare'])
    accepted.push((await w.post('/mj/submit/imagine', { prompt }, alice.headers)).json.result);
  expect((await w.post('/mj/submit/imagine', { prompt: 'a word --sim-banned' }, alice.headers)).json.code).toBe(24);
  expect((await w.post('/mj/submit/imagine', { prompt: 'a storm --sim-fail' }, alice.headers)).json.code).toBe(1);
  expect((await w.post('/mj/submit/imagine', { prompt: 'a cat' }, poor.headers)).status).toBe(400);
  expect((await w.get(`/mj/task/${accepted[0]}/fetch`, alice.headers)).status).toBe(200);
  expect((await w.get('/no/such/path', alice.headers)).status).toBe(404);
  beforePoll = (await scrape(w.srv.url)).samples;

  await createPoller(w.srv.deps).runOnce();
  const image = await fetch(`${w.srv.url}/mj/image/${accepted[0]}`);
  expect(image.status).toBe(200);
  imageBytes = (await image.arrayBuffer()).byteLength;
  // The request counter is written after each response went out: wait until the image's is in.
  after = await waitFor(async () => {
    const r = await scrape(w.srv.url);
    return value(r.samples, 'mjgw_http_requests_total', { route: '/mj/image/:id' }) ? r : null;
  }, 'the image request in the counter');
});

afterAll(async () => {
  await w.stop();
});

describe('GET /metrics after real traffic', () => {
  test('is Prometheus text', () => {
    expect(after.res.status).toBe(200);
    expect(after.res.headers.get('content-type')).toStartWith('text/plain; version=0.0.4');
    expect(after.text).toContain('# TYPE mjgw_http_requests_total counter');
  });

  test('requests are counted by route pattern and status, never by raw URL', () => {
    const s = after.samples;
    expect(value(s, 'mjgw_http_requests_total', { method: 'POST', route: '/mj/submit/imagine', status: '200' })).toBe(
      4,
    );
    expect(value(s, 'mjgw_http_requests_total', { method: 'POST', route: '/mj/submit/imagine', status: '400' })).toBe(
      1,
    );
    expect(value(s, 'mjgw_http_requests_total', { method: 'GET', route: '/mj/task/:id/fetch', status: '200' })).toBe(1);
    expect(value(s, 'mjgw_http_requests_total', { method: 'GET', route: '/mj/image/:id', status: '200' })).toBe(1);
    expect(value(s, 'mjgw_http_requests_total', { method: 'GET', route: 'unmatched', status: '404' })).toBe(1);
    expect(
      value(s, 'mjgw_http_requests_total', { method: 'GET', route: '/metrics', status: '200' }),
    ).toBeGreaterThanOrEqual(1);
    for (const id of accepted) expect(after.text).not.toContain(id);
    expect(after.text).not.toContain('/no/such/path');
  });

  test('submit outcomes by action and code', () => {
    const s = after.samples;
    expect(value(s, 'mjgw_submit_outcomes_total', { action: 'IMAGINE', code: '1' })).toBe(3);
    expect(value(s, 'mjgw_submit_outcomes_total', { action: 'IMAGINE', code: '24' })).toBe(1);
    expect(value(s, 'mjgw_submit_outcomes_total', { action: 'IMAGINE', code: 'quota_not_enough' })).toBe(1);
  });

  test('quota charged and refunded: the refused submit at once, the failed task by the poller', () => {
    expect(value(beforePoll, 'mjgw_quota_charged_total')).toBe(4 * IMAGINE_PRICE);
    expect(value(beforePoll, 'mjgw_quota_refunded_total')).toBe(IMAGINE_PRICE);
    expect(value(after.samples, 'mjgw_quota_charged_total')).toBe(4 * IMAGINE_PRICE);
    expect(value(after.samples, 'mjgw_quota_refunded_total')).toBe(2 * IMAGINE_PRICE);
  });

  test('unfinished tasks by channel are read at scrape time', () => {
    expect(value(beforePoll, 'mjgw_tasks_unfinished', { channel })).toBe(3);
    // The simulator runs with stepMs 0, so one tick finishes everything.
    expect(value(after.samples, 'mjgw_tasks_unfinished', { channel })).toBeUndefined();
  });

  test('poll tick and upstream latency histograms', () => {
    const s = after.samples;
    expect(value(s, 'mjgw_poll_tick_duration_seconds_count')).toBe(1);
    expect(value(s, 'mjgw_upstream_latency_seconds_count', { channel, call: 'submit' })).toBe(4);
    expect(value(s, 'mjgw_upstream_latency_seconds_count', { channel, call: 'poll' })).toBe(1);
    expect(value(s, 'mjgw_upstream_latency_seconds_bucket', { channel, call: 'submit', le: '+Inf' })).toBe(4);
    expect(value(s, 'mjgw_upstream_latency_seconds_sum', { channel, call: 'submit' })).toBeGreaterThan(0);
  });

  test('image bytes streamed', () => {
    expect(imageBytes).toBeGreaterThan(0);
    expect(value(after.samples, 'mjgw_image_bytes_total')).toBe(imageBytes);
  });
});

describe('who may scrape', () => {
  test('without credentials: the management API 401', async () => {
    const { res, text } = await scrape(w.srv.url, {});
    expect(res.status).toBe(401);
    expect(JSON.parse(text)).toEqual({ success: false, message: AUTH_MESSAGES.notLoggedIn });
  });

  test('a common user: 403', async () => {
    const user = await addUser(w.srv.handle);
    const { res, text } = await scrape(w.srv.url, user.headers);
    expect(res.status).toBe(403);
    expect(JSON.parse(text)).toEqual({ success: false, message: AUTH_MESSAGES.insufficient });
  });

  test('METRICS_PUBLIC=true: open, and its registry is its own', async () => {
    let open: TestServer | null = null;
    try {
      open = await startTestServer({ env: { METRICS_PUBLIC: 'true' } });
      const { res, samples } = await scrape(open.url, {});
      expect(res.status).toBe(200);
      expect(value(samples, 'mjgw_quota_charged_total')).toBe(0);
      expect(samples.some((s) => s.name === 'mjgw_submit_outcomes_total')).toBe(false);
    } finally {
      await open?.stop();
    }
  });
});
