import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import postgres from 'postgres';
import { type Simulator, startSimulator } from '../../src/simulator/index.ts';
import { answer } from '../helpers/bodies.ts';
import { type PrivateCluster, startPrivateCluster } from '../helpers/pg-cluster.ts';
import { waitFor } from '../helpers/server.ts';

/**
 * A gateway process on PostgreSQL while the server goes away and comes back (SPEC §13): every
 * surface answers 503 `database unavailable` within 5 s (never a hang), /healthz 503, and the same
 * process recovers by itself with nothing lost or doubled.
 */

const ROOT_TOKEN = 'pg-outage-root-token-0123456789ab';
const ROOT = { authorization: `Bearer ${ROOT_TOKEN}`, 'new-api-user': '1' };
const SECRET = 'pg-outage-sim-secret';

let cluster: PrivateCluster;
let sim: Simulator;
let proc: ReturnType<typeof Bun.spawn>;
let url: string;
let key: string;
let userId: number;

async function trpc(path: string, input: unknown, headers: Record<string, string> = ROOT): Promise<Response> {
  return fetch(`${url}/trpc/${path}`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify(input),
  });
}

function imagine(prompt: string, signal?: AbortSignal): Promise<Response> {
  return fetch(`${url}/mj/submit/imagine`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ prompt }),
    signal,
  });
}

/** SPEC §13: an answer within 5 s, never a hang (the request is aborted at the bound, failing the test). */
const BOUND = () => AbortSignal.timeout(5000);

beforeAll(async () => {
  cluster = startPrivateCluster();
  sim = await startSimulator({ secret: SECRET, stepMs: 20, imageSize: 16 });
  proc = Bun.spawn(['bun', 'src/index.ts'], {
    env: {
      PATH: process.env.PATH ?? '',
      PORT: '0',
      HOST: '127.0.0.1',
      DATABASE_URL: cluster.url,
      POLL_INTERVAL_MS: '100',
      INITIAL_ROOT_ACCESS_TOKEN: ROOT_TOKEN,
      READ_WORKERS: '0',
      LOG_LEVEL: 'error',
    },
    stdout: 'pipe',
    stderr: 'pipe',
  });
  let out = '';
  const decoder = new TextDecoder();
  void (async () => {
    for await (const chunk of proc.stdout as ReadableStream<Uint8Array>) out += decoder.decode(chunk);
  })();
  const port = await waitFor(() => /listening on http:\/\/[^:]+:(\d+)/.exec(out)?.[1], 'listening', 20_000);
  url = `http://127.0.0.1:${port}`;
  expect((await trpc('admin.channel.create', { name: 'sim', base_url: sim.url, key: SECRET })).status).toBe(200);
  const user = (
    (await (await trpc('admin.user.create', { username: 'alice', quota: 10 * 50_000 })).json()) as {
      result: { data: { id: number; access_token: string } };
    }
  ).result.data;
  userId = user.id;
  const headers = { authorization: `Bearer ${user.access_token}`, 'new-api-user': String(user.id) };
  key = (
    (await (await trpc('token.create', { name: 'k', unlimited_quota: true }, headers)).json()) as {
      result: { data: { key: string } };
    }
  ).result.data.key;
}, 60_000);

afterAll(async () => {
  proc?.kill('SIGKILL');
  await proc?.exited;
  await sim?.stop();
  cluster?.stop();
});

describe('PostgreSQL outage', () => {
  test('while the server is down: 503 database unavailable on every surface within 5 s, /healthz 503; then recovery by itself', async () => {
    expect((await imagine('before the outage')).status).toBe(200);
    cluster.halt();
    const rest = await answer(fetch(`${url}/api/mj/self`, { headers: ROOT, signal: BOUND() }));
    expect(rest).toEqual({ status: 503, body: { success: false, message: 'database unavailable' } });
    const relay = await answer(imagine('during the outage', BOUND()));
    expect(relay.status).toBe(503);
    expect(relay.body).toMatchObject({ code: 5, description: 'database unavailable' });
    const rpc = await answer(fetch(`${url}/trpc/user.self`, { headers: ROOT, signal: BOUND() }));
    expect(rpc.status).toBe(503);
    expect(rpc.body).toMatchObject({ error: { message: 'database unavailable' } });
    const health = await answer(fetch(`${url}/healthz`, { signal: BOUND() }));
    expect(health.status).toBe(503);

    cluster.resume();
    await waitFor(async () => (await fetch(`${url}/healthz`)).status === 200, 'healthz back', 20_000);
    const after = await imagine('after the outage');
    expect(after.status).toBe(200);
    // Nothing lost or doubled: two accepted submits charged once each, and the books balance.
    const sql = postgres(cluster.url, { max: 1, onnotice: () => {} });
    try {
      const [u] = await sql<{ quota: number }[]>`SELECT quota::int AS quota FROM users WHERE id = ${userId}`;
      const [l] = await sql<
        { n: number; sum: number }[]
      >`SELECT count(*)::int AS n, COALESCE(sum(CASE type WHEN 4 THEN quota WHEN 2 THEN -quota WHEN 6 THEN quota END), 0)::int AS sum FROM logs WHERE user_id = ${userId}`;
      const [t] = await sql<
        { n: number }[]
      >`SELECT count(*)::int AS n FROM tasks WHERE user_id = ${userId} AND mj_id <> ''`;
      expect(t!.n).toBe(2);
      expect(u!.quota).toBe(l!.sum);
      expect(u!.quota).toBe(8 * 50_000);
    } finally {
      await sql.end();
    }
  }, 60_000);
});
