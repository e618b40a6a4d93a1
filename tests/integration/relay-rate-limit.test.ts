import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { createTRPCClient, httpBatchLink, TRPCClientError } from '@trpc/client';
import { LOG_TYPE } from '../../src/contract/constants.ts';
import { ManualClock } from '../../src/lib/clock.ts';
import { type Simulator, startSimulator } from '../../src/simulator/index.ts';
import type { AppRouter } from '../../src/trpc/routers/index.ts';
import type { TestUser } from '../helpers/factories.ts';
import { addChannel, addUser, quotaOf } from '../helpers/rows.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

/**
 * Per-key relay rate limits (SPEC §15) through the real HTTP relay, with keys made by tRPC
 * `token.create` / `token.update`, a real simulator counting what was forwarded, and a manual
 * clock to move across minute windows.
 */

const PRICE = 50_000;
const MINUTE = 60_000;
/** 15 s into a minute window. */
const T0 = 1_790_000_040_000 + 15_000;

interface World {
  srv: TestServer;
  sim: Simulator;
  clock: ManualClock;
  user: TestUser;
  trpc: ReturnType<typeof createTRPCClient<AppRouter>>;
  stop(): Promise<void>;
}

async function world(env: Record<string, string> = {}): Promise<World> {
  const clock = new ManualClock(T0);
  const srv = await startTestServer({ env, clock });
  const sim = await startSimulator({ secret: 's', stepMs: 0 });
  await addChannel(srv.handle, sim.url, { key: 's' });
  const user = await addUser(srv.handle, { quota: 100_000_000 });
  const trpc = createTRPCClient<AppRouter>({
    links: [httpBatchLink({ url: `${srv.url}/trpc`, headers: () => user.headers })],
  });
  return {
    srv,
    sim,
    clock,
    user,
    trpc,
    async stop() {
      await sim.stop();
      await srv.stop();
    },
  };
}

async function newKey(w: World, rate?: number): Promise<{ id: number; headers: Record<string, string> }> {
  const t = await w.trpc.token.create.mutate({
    name: 'k',
    unlimited_quota: true,
    ...(rate === undefined ? {} : { rate_limit_per_minute: rate }),
  });
  return { id: t.id, headers: { authorization: `Bearer ${t.key}`, 'content-type': 'application/json' } };
}

function imagine(w: World, headers: Record<string, string>, prompt = 'a fox'): Promise<Response> {
  return fetch(`${w.srv.url}/mj/submit/imagine`, { method: 'POST', headers, body: JSON.stringify({ prompt }) });
}

const submitsOf = (sim: Simulator) => sim.requests.filter((r) => r.path === '/mj/submit/imagine').length;

async function rateLimitedTotal(w: World): Promise<number> {
  return (await w.srv.deps.metrics.registry.getSingleMetric('mjgw_rate_limited_total')!.get()).values[0]?.value ?? 0;
}

describe('per-key rate limit (no default)', () => {
  let w: World;
  beforeAll(async () => {
    w = await world();
  });
  afterAll(() => w.stop());

  test('a key limited to 3 gets 429 on the 4th submit, with Retry-After; nothing charged or forwarded', async () => {
    const key = await newKey(w, 3);
    w.sim.clearRequests();
    const before = await quotaOf(w.srv.handle, w.user.id);
    for (let i = 0; i < 3; i++) expect((await imagine(w, key.headers)).status).toBe(200);
    const res = await imagine(w, key.headers);
    expect(res.status).toBe(429);
    expect(await res.json()).toEqual({
      error: { message: expect.any(String), type: 'mj_gateway_error', code: 'rate_limit_exceeded' },
    });
    // 15 s into the window: it frees in 45 s.
    expect(res.headers.get('retry-after')).toBe('45');
    // A browser client may read it too (CORS exposes it).
    expect(res.headers.get('access-control-expose-headers')).toContain('retry-after');
    expect(await quotaOf(w.srv.handle, w.user.id)).toBe(before - 3 * PRICE);
    expect(submitsOf(w.sim)).toBe(3);
    expect(
      await w.srv.sql('SELECT id FROM logs WHERE token_id = $1 AND type = $2', key.id, LOG_TYPE.consume),
    ).toHaveLength(3);
    expect(await rateLimitedTotal(w)).toBe(1);

    // Another key of the same user is not affected.
    const other = await newKey(w);
    expect((await imagine(w, other.headers)).status).toBe(200);

    // Queries are not limited.
    const fetched = await fetch(`${w.srv.url}/mj/task/nope/fetch`, { headers: key.headers });
    expect(fetched.status).toBe(404);
    const listed = await fetch(`${w.srv.url}/mj/task/list-by-condition`, {
      method: 'POST',
      headers: key.headers,
      body: JSON.stringify({ ids: [] }),
    });
    expect(listed.status).toBe(200);

    // The next window frees the key.
    w.clock.advance(MINUTE);
    expect((await imagine(w, key.headers)).status).toBe(200);
    expect(submitsOf(w.sim)).toBe(5);
  });

  test('typed submits (tRPC mj.submit) share the same limit: TOO_MANY_REQUESTS, nothing charged or forwarded', async () => {
    const key = await newKey(w, 2);
    w.sim.clearRequests();
    for (let i = 0; i < 2; i++) await w.trpc.mj.submit.mutate({ action: 'IMAGINE', prompt: 'typed', token_id: key.id });
    const before = await quotaOf(w.srv.handle, w.user.id);
    const err = await w.trpc.mj.submit.mutate({ action: 'IMAGINE', prompt: 'typed', token_id: key.id }).then(
      () => null,
      (e: unknown) => e as TRPCClientError<AppRouter>,
    );
    expect(err?.data?.code).toBe('TOO_MANY_REQUESTS');
    expect(err?.data?.httpStatus).toBe(429);
    expect(await quotaOf(w.srv.handle, w.user.id)).toBe(before);
    expect(submitsOf(w.sim)).toBe(2);
    // The relay route counts into the same window.
    expect((await imagine(w, key.headers)).status).toBe(429);
    w.clock.advance(MINUTE);
  });

  test('token.update sets and clears the limit; bad values are refused', async () => {
    const key = await newKey(w);
    const updated = await w.trpc.token.update.mutate({ id: key.id, rate_limit_per_minute: 1 });
    expect(updated.rate_limit_per_minute).toBe(1);
    expect((await imagine(w, key.headers)).status).toBe(200);
    expect((await imagine(w, key.headers)).status).toBe(429);
    await w.trpc.token.update.mutate({ id: key.id, rate_limit_per_minute: 0 });
    expect((await imagine(w, key.headers)).status).toBe(200);
    for (const bad of [-1, 1.5, 10_000_001]) {
      const err = await w.trpc.token.update.mutate({ id: key.id, rate_limit_per_minute: bad }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(TRPCClientError);
    }
  });

  test('20 concurrent submits on a key limited to 5: exactly 5 pass', async () => {
    w.clock.advance(MINUTE);
    const key = await newKey(w, 5);
    w.sim.clearRequests();
    const statuses = await Promise.all(Array.from({ length: 20 }, () => imagine(w, key.headers).then((r) => r.status)));
    expect(statuses.filter((s) => s === 200)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(15);
    expect(submitsOf(w.sim)).toBe(5);
  });

  test('old windows are swept', async () => {
    const key = await newKey(w, 10);
    await imagine(w, key.headers);
    w.clock.advance(3 * MINUTE);
    await imagine(w, key.headers);
    const windows = await w.srv.sql('SELECT token_id FROM rate_limit_windows WHERE token_id = $1', key.id);
    expect(windows).toHaveLength(1);
  });
});

describe('RELAY_RATE_LIMIT_PER_MINUTE', () => {
  test("applies to keys that set none; a key's own limit wins", async () => {
    const w = await world({ RELAY_RATE_LIMIT_PER_MINUTE: '2' });
    try {
      const plain = await newKey(w);
      const own = await newKey(w, 4);
      expect((await imagine(w, plain.headers)).status).toBe(200);
      expect((await imagine(w, plain.headers)).status).toBe(200);
      expect((await imagine(w, plain.headers)).status).toBe(429);
      for (let i = 0; i < 4; i++) expect((await imagine(w, own.headers)).status).toBe(200);
      expect((await imagine(w, own.headers)).status).toBe(429);
    } finally {
      await w.stop();
    }
  });
});
