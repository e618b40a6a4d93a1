import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { createTRPCClient, httpBatchLink } from '@trpc/client';
import { type Simulator, startSimulator } from '../../src/simulator/index.ts';
import type { AppRouter } from '../../src/trpc/routers/index.ts';
import { type TempPg, tempPg } from '../helpers/pg.ts';
import { waitFor } from '../helpers/server.ts';

/**
 * Upstream push across replicas on PostgreSQL (SPEC §16): two real gateway processes, neither
 * polling (UPDATE_TASK=false), so every change seen comes from a push. Jobs submitted through `a`
 * carry hooks that point at `b`: the secret derived on `a` is accepted on `b`, `b` applies the
 * change, and `a` shows it.
 */

const ROOT_TOKEN = 'pg-push-root-token-0123456789abcdef';
const ROOT = { authorization: `Bearer ${ROOT_TOKEN}`, 'new-api-user': '1' };
const SECRET = 'pg-push-sim-secret';
const PRICE = 50_000;

interface Gateway {
  url: string;
  proc: ReturnType<typeof Bun.spawn>;
}

let pg: TempPg;
let sim: Simulator;
const gateways: Gateway[] = [];
let a: Gateway;
let b: Gateway;

async function spawnGateway(extra: Record<string, string> = {}): Promise<Gateway> {
  const proc = Bun.spawn(['bun', 'src/index.ts'], {
    env: {
      PATH: process.env.PATH ?? '',
      PORT: '0',
      HOST: '127.0.0.1',
      DATABASE_URL: pg.url,
      DATABASE_POOL_SIZE: '4',
      UPDATE_TASK: 'false',
      INITIAL_ROOT_ACCESS_TOKEN: ROOT_TOKEN,
      READ_WORKERS: '0',
      LOG_LEVEL: 'warn',
      MJ_UPSTREAM_NOTIFY_ENABLED: 'true',
      ...extra,
    },
    stdout: 'pipe',
    stderr: 'pipe',
  });
  let out = '';
  const decoder = new TextDecoder();
  void (async () => {
    for await (const chunk of proc.stdout as ReadableStream<Uint8Array>) out += decoder.decode(chunk);
  })();
  const port = await waitFor(
    () => /listening on http:\/\/[^:]+:(\d+)/.exec(out)?.[1] ?? (proc.exitCode !== null ? 'exited' : null),
    'listening',
    20_000,
  );
  if (port === 'exited') throw new Error(`gateway exited at start-up: ${out}${await new Response(proc.stderr).text()}`);
  const g = { url: `http://127.0.0.1:${port}`, proc };
  gateways.push(g);
  return g;
}

const client = (g: Gateway, headers: Record<string, string>) =>
  createTRPCClient<AppRouter>({ links: [httpBatchLink({ url: `${g.url}/trpc`, headers: () => headers })] });

async function newUser(
  g: Gateway,
  username: string,
  quota: number,
): Promise<{ id: number; key: string; headers: Record<string, string> }> {
  const user = await client(g, ROOT).admin.user.create.mutate({ username, quota });
  const headers = { authorization: `Bearer ${user.access_token}`, 'new-api-user': String(user.id) };
  const token = await client(g, headers).token.create.mutate({ name: 'k', unlimited_quota: true });
  return { id: user.id, key: token.key, headers };
}

async function imagine(g: Gateway, key: string, prompt: string): Promise<string> {
  const res = await fetch(`${g.url}/mj/submit/imagine`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ prompt, notifyHook: 'https://client.example/hook' }),
  });
  const json = (await res.json()) as { code: number; result: string };
  expect(json.code).toBe(1);
  return json.result;
}

beforeAll(async () => {
  pg = await tempPg();
  sim = await startSimulator({ secret: SECRET, stepMs: 20, imageSize: 16 });
  b = await spawnGateway();
  a = await spawnGateway({ UPSTREAM_NOTIFY_BASE_URL: b.url });
  await client(a, ROOT).admin.channel.create.mutate({ name: 'sim', base_url: sim.url, key: SECRET });
}, 60_000);

afterAll(async () => {
  for (const g of gateways) if (g.proc.exitCode === null) g.proc.kill('SIGKILL');
  await Promise.all(gateways.map((g) => g.proc.exited));
  await sim?.stop();
  await pg?.cleanup();
});

describe('upstream push on PostgreSQL, two replicas', () => {
  test('a job submitted through one replica is pushed to the other; the first shows SUCCESS, its webhook queued', async () => {
    const u = await newUser(a, 'pushed', 10 * PRICE);
    const mjId = await imagine(a, u.key, 'a lantern in fog');
    const item = await waitFor(
      async () => {
        const got = await client(a, u.headers).mj.get.query({ mj_id: mjId });
        return got.status === 'SUCCESS' ? got : null;
      },
      'SUCCESS on a',
      15_000,
    );
    expect(item.progress).toBe('100%');
    // The pushes went to b (the hook's base); nobody polled.
    expect(sim.requests.filter((r) => r.path === '/mj/task/list-by-condition')).toHaveLength(0);
    const [hooks] = await pg.db.$client<{ n: number }[]>`
      SELECT count(*)::int AS n FROM webhook_deliveries d JOIN tasks t ON t.id = d.task_id WHERE t.mj_id = ${mjId}`;
    expect(hooks!.n).toBeGreaterThan(1);
  });

  test('a failure pushed to both replicas at once (a replay) is refunded exactly once', async () => {
    const u = await newUser(a, 'replayed', 2 * PRICE);
    const mjId = await imagine(a, u.key, 'doomed --sim-fail');
    await waitFor(
      async () => (await client(b, u.headers).mj.get.query({ mj_id: mjId })).status === 'FAILURE',
      'FAILURE',
      15_000,
    );
    // The hook the gateway forwarded with the submit (the simulator keeps each request's body).
    const submitted = sim.requests.find(
      (r) => r.path === '/mj/submit/imagine' && (r.body as { prompt?: string }).prompt === 'doomed --sim-fail',
    );
    const hook = (submitted?.body as { notifyHook?: string } | undefined)?.notifyHook;
    expect(hook?.startsWith(`${b.url}/mj/notify/`)).toBe(true);
    const path = hook ? new URL(hook).pathname : null;
    expect(path).toMatch(/^\/mj\/notify\/\d+\/[\w-]{43}$/);
    const body = JSON.stringify({
      id: mjId,
      status: 'FAILURE',
      progress: '100%',
      failReason: 'again',
      action: 'IMAGINE',
    });
    const answers = await Promise.all(
      [a, b, a, b].map((g) =>
        fetch(`${g.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body }),
      ),
    );
    expect(answers.map((r) => r.status)).toEqual([204, 204, 204, 204]);
    const [refunds] = await pg.db.$client<{ n: number }[]>`
      SELECT count(*)::int AS n FROM logs l JOIN tasks t ON t.id = l.task_id WHERE t.mj_id = ${mjId} AND l.type = 6`;
    expect(refunds!.n).toBe(1);
    const [user] = await pg.db.$client<{ quota: number }[]>`SELECT quota FROM users WHERE id = ${u.id}`;
    expect(Number(user!.quota)).toBe(2 * PRICE);
    const wrong = await fetch(`${b.url}${path!.replace(/[\w-]{43}$/, 'x'.repeat(43))}`, { method: 'POST', body });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toEqual({ error: 'invalid_notify_secret' });
  });

  test('reconciliation and the money timeline on PostgreSQL: move, admin fail on two replicas at once refunds once', async () => {
    const down = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response('down', { status: 503 }) });
    // An upstream that takes jobs and never moves them: only an admin ends them.
    const still = Bun.serve({
      port: 0,
      hostname: '127.0.0.1',
      fetch: (req) =>
        new URL(req.url).pathname.endsWith('/list-by-condition')
          ? Response.json([])
          : Response.json({ code: 1, description: 'Submit success', result: `still${Date.now()}`, properties: {} }),
    });
    const admin = client(a, ROOT);
    const made = [
      await admin.admin.channel.create.mutate({
        name: 'down',
        base_url: `http://127.0.0.1:${down.port}`,
        key: '',
        priority: 100,
      }),
      await admin.admin.channel.create.mutate({
        name: 'still',
        base_url: `http://127.0.0.1:${still.port}`,
        key: '',
        priority: 50,
      }),
    ];
    try {
      const u = await newUser(a, 'ledger', 4 * PRICE);
      const mjId = await imagine(a, u.key, 'a job that hangs');
      const ledger1 = await client(b, u.headers).mj.ledger.query({ mj_id: mjId });
      expect(ledger1.items.map((i) => i.kind)).toEqual(['charge', 'move']);
      expect(ledger1.items[1]!.note).toBe(`moved from channel ${made[0]!.id} to channel ${made[1]!.id}`);
      const resynced = await client(b, ROOT).admin.task.resync.mutate({ mj_id: mjId });
      expect([resynced.status, resynced.channel_id]).toEqual(['', made[1]!.id]);
      const calls = await Promise.allSettled(
        [a, b, a, b].map((g) => client(g, ROOT).admin.task.fail.mutate({ mj_id: mjId, reason: 'hung upstream' })),
      );
      expect(calls.filter((c) => c.status === 'fulfilled')).toHaveLength(1);
      const ledger2 = await client(a, u.headers).mj.ledger.query({ mj_id: mjId });
      expect(ledger2.items.map((i) => i.kind)).toEqual(['charge', 'move', 'refund']);
      expect(ledger2.items[2]!.note).toContain('hung upstream');
      expect(ledger2.items[2]!.note).toContain('admin 1');
      const sum = ledger2.items.reduce(
        (s, i) => s + (i.kind === 'charge' ? i.quota : i.kind === 'refund' ? -i.quota : 0),
        0,
      );
      const item = await client(a, u.headers).mj.get.query({ mj_id: mjId });
      expect([sum, item.quota, item.status, item.fail_reason]).toEqual([0, 0, 'FAILURE', 'hung upstream']);
      const [user] = await pg.db.$client<{ quota: number }[]>`SELECT quota FROM users WHERE id = ${u.id}`;
      expect(Number(user!.quota)).toBe(4 * PRICE);
    } finally {
      for (const c of made) await admin.admin.channel.delete.mutate({ id: c.id });
      await down.stop(true);
      await still.stop(true);
    }
  });
});
