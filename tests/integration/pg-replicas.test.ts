import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { createTRPCClient, httpBatchLink } from '@trpc/client';
import { type Simulator, startSimulator } from '../../src/simulator/index.ts';
import type { AppRouter } from '../../src/trpc/routers/index.ts';
import { gatewayLinks } from '../../src/web/links.ts';
import { type TempPg, tempPg } from '../helpers/pg.ts';
import { waitFor } from '../helpers/server.ts';

/**
 * Three real gateway processes (`bun src/index.ts`) on one PostgreSQL database (SPEC §13): what
 * one writes the others answer, money holds across them, one poller leads and a crash hands over.
 */

const ROOT_TOKEN = 'pg-replicas-root-token-0123456789';
const ROOT = { authorization: `Bearer ${ROOT_TOKEN}`, 'new-api-user': '1' };
const SECRET = 'pg-replicas-sim-secret';
const INTERVAL_MS = 100;
const LEASE_MS = 1500;
const PRICE = 50_000;

interface Gateway {
  name: string;
  url: string;
  proc: ReturnType<typeof Bun.spawn>;
  out(): string;
}

let pg: TempPg;
let sim: Simulator;
const gateways: Gateway[] = [];

async function spawnGateway(name: string): Promise<Gateway> {
  const proc = Bun.spawn(['bun', 'src/index.ts'], {
    env: {
      PATH: process.env.PATH ?? '',
      PORT: '0',
      HOST: '127.0.0.1',
      DATABASE_URL: pg.url,
      DATABASE_POOL_SIZE: '4',
      POLL_INTERVAL_MS: String(INTERVAL_MS),
      POLL_LEASE_MS: String(LEASE_MS),
      INITIAL_ROOT_ACCESS_TOKEN: ROOT_TOKEN,
      READ_WORKERS: '0',
      LOG_LEVEL: 'info',
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
    `${name} listening`,
    20_000,
  );
  if (port === 'exited') throw new Error(`${name} exited at start-up: ${out}${await new Response(proc.stderr).text()}`);
  const g: Gateway = { name, url: `http://127.0.0.1:${port}`, proc, out: () => out };
  gateways.push(g);
  return g;
}

interface Status {
  database: string;
  poller: string;
  mj_forward_url_enabled: boolean;
}

async function status(g: Gateway): Promise<Status> {
  return ((await (await fetch(`${g.url}/api/status`)).json()) as { data: Status }).data;
}

const client = (g: Gateway, headers: Record<string, string>) =>
  createTRPCClient<AppRouter>({ links: [httpBatchLink({ url: `${g.url}/trpc`, headers: () => headers })] });

function imagine(g: Gateway, key: string, prompt: string): Promise<Response> {
  return fetch(`${g.url}/mj/submit/imagine`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ prompt }),
  });
}

async function newUser(
  g: Gateway,
  username: string,
  quota: number,
): Promise<{ id: number; key: string; accessToken: string }> {
  const user = await client(g, ROOT).admin.user.create.mutate({ username, quota });
  const headers = { authorization: `Bearer ${user.access_token}`, 'new-api-user': String(user.id) };
  const token = await client(g, headers).token.create.mutate({ name: 'k', unlimited_quota: true });
  return { id: user.id, key: token.key, accessToken: user.access_token };
}

let a: Gateway;
let b: Gateway;
let c: Gateway;

beforeAll(async () => {
  pg = await tempPg();
  sim = await startSimulator({ secret: SECRET, stepMs: 20, imageSize: 16 });
  // Started together: the migrator runs once (advisory lock), root is created once.
  [a, b, c] = await Promise.all([spawnGateway('a'), spawnGateway('b'), spawnGateway('c')]);
  await client(a, ROOT).admin.channel.create.mutate({ name: 'sim', base_url: sim.url, key: SECRET });
}, 60_000);

afterAll(async () => {
  for (const g of gateways) if (g.proc.exitCode === null) g.proc.kill('SIGKILL');
  await Promise.all(gateways.map((g) => g.proc.exited));
  await sim?.stop();
  await pg?.cleanup();
});

describe('three replicas on one PostgreSQL database', () => {
  test('every replica says postgres; exactly one leads the poller', async () => {
    const roles = await waitFor(
      async () => {
        const all = await Promise.all([a, b, c].map(status));
        return all.filter((s) => s.poller === 'leader').length === 1 ? all : null;
      },
      'one leader',
      10_000,
    );
    for (const s of roles) expect(s.database).toBe('postgres');
    expect(roles.filter((s) => s.poller === 'standby')).toHaveLength(2);
  });

  test('an API key made through one replica works on another', async () => {
    const u = await newUser(a, 'cross', 10 * PRICE);
    const res = await imagine(b, u.key, 'made on a, used on b');
    expect(res.status).toBe(200);
    expect(((await res.json()) as { code: number }).code).toBe(1);
  });

  test('30 concurrent submits through three replicas with quota for 5: exactly 5 charged and forwarded', async () => {
    const u = await newUser(a, 'race', 5 * PRICE);
    sim.clearRequests();
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) => imagine([a, b, c][i % 3]!, u.key, `race ${i}`)),
    );
    expect(answers.filter((r) => r.status === 200)).toHaveLength(5);
    const [row] = await pg.db.$client<{ quota: number }[]>`SELECT quota FROM users WHERE id = ${u.id}`;
    expect(row!.quota).toBe(0);
    expect(sim.requests.filter((r) => r.path === '/mj/submit/imagine')).toHaveLength(5);
  });

  test('three failing tasks submitted through different replicas are refunded exactly once each', async () => {
    const u = await newUser(b, 'fails', 3 * PRICE);
    for (const g of [a, b, c]) expect((await imagine(g, u.key, `doomed --sim-fail ${g.name}`)).status).toBe(200);
    await waitFor(
      async () => {
        const [r] = await pg.db.$client<
          { n: number }[]
        >`SELECT count(*)::int AS n FROM tasks WHERE user_id = ${u.id} AND status = 'FAILURE'`;
        return r!.n === 3;
      },
      'three failures',
      15_000,
    );
    const refunds = await pg.db.$client<{ task_id: number; n: number }[]>`
      SELECT task_id, count(*)::int AS n FROM logs WHERE user_id = ${u.id} AND type = 6 GROUP BY task_id`;
    expect(refunds).toHaveLength(3);
    for (const r of refunds) expect(r.n).toBe(1);
    const [row] = await pg.db.$client<{ quota: number }[]>`SELECT quota FROM users WHERE id = ${u.id}`;
    expect(row!.quota).toBe(3 * PRICE);
  });

  test('live updates cross replicas: a page connected to one sees a task submitted through another move to 100%', async () => {
    const u = await newUser(a, 'live', 2 * PRICE);
    const seen: Array<{ mj_id: string; progress: string }> = [];
    let ready!: () => void;
    const started = new Promise<void>((r) => (ready = r));
    const live = createTRPCClient<AppRouter>({
      links: gatewayLinks({ url: a.url, token: u.accessToken, userId: u.id }),
    });
    const sub = live.mj.onTaskUpdate.subscribe(
      {},
      {
        onStarted: () => ready(),
        onData: ({ data }) => {
          if (!('reload' in data)) seen.push(data);
        },
      },
    );
    try {
      await started;
      const res = await imagine(c, u.key, 'seen from another replica');
      const id = ((await res.json()) as { result: string }).result;
      await waitFor(
        () => seen.some((e) => e.mj_id === id && e.progress === '100%'),
        'the task at 100% on replica a',
        15_000,
      );
    } finally {
      sub.unsubscribe();
    }
  });

  test('an option changed through one replica is in force on another within 2 s', async () => {
    await client(c, ROOT).admin.option.update.mutate({ key: 'mj_forward_url_enabled', value: false });
    await waitFor(async () => !(await status(a)).mj_forward_url_enabled, 'a sees the option', 2000);
    await client(a, ROOT).admin.option.update.mutate({ key: 'mj_forward_url_enabled', value: true });
    await waitFor(async () => (await status(b)).mj_forward_url_enabled, 'b sees it back', 2000);
  });

  test('rows inserted and deleted with plain SQL: the listing totals stay exact', async () => {
    const [u] = await pg.db.$client<
      { id: number }[]
    >`INSERT INTO users (username, created_time) VALUES ('bulk', 1) RETURNING id`;
    await pg.db
      .$client`INSERT INTO tasks (user_id, channel_id, submit_time, progress) SELECT ${u!.id}, 1, g, '100%' FROM generate_series(1, 20000) g`;
    await pg.db.$client`DELETE FROM tasks WHERE user_id = ${u!.id} AND submit_time % 7 = 0`;
    const [truth] = await pg.db.$client<{ all: number; mine: number }[]>`
      SELECT count(*)::int AS all, count(*) FILTER (WHERE user_id = ${u!.id})::int AS mine FROM tasks`;
    const page = await client(b, ROOT).mj.all.query({ page_size: 1 });
    expect(page.total).toBe(truth!.all);
    expect(truth!.mine).toBe(20000 - Math.floor(20000 / 7));
  });

  test('the leader killed with SIGKILL: another leads within the lease, and new tasks finish', async () => {
    const all = await Promise.all([a, b, c].map(async (g) => ({ g, s: await status(g) })));
    const leader = all.find((x) => x.s.poller === 'leader')!.g;
    const others = [a, b, c].filter((g) => g !== leader);
    leader.proc.kill('SIGKILL');
    await leader.proc.exited;
    await waitFor(
      async () => (await Promise.all(others.map(status))).some((s) => s.poller === 'leader'),
      'a new leader',
      LEASE_MS + 10 * INTERVAL_MS + 5000,
    );
    const u = await newUser(others[0]!, 'after-crash', 2 * PRICE);
    const res = await imagine(others[1]!, u.key, 'after the crash');
    const id = ((await res.json()) as { result: string }).result;
    await waitFor(
      async () => {
        const [r] = await pg.db.$client<{ status: string }[]>`SELECT status FROM tasks WHERE mj_id = ${id}`;
        return r?.status === 'SUCCESS';
      },
      'the task finishes',
      15_000,
    );
    // Its image comes through any replica's forwarder, and a fetch of the task answers there too.
    const image = await fetch(`${others[0]!.url}/mj/image/${id}`);
    expect(image.status).toBe(200);
    expect(image.headers.get('content-type')).toBe('image/png');
    expect((await image.arrayBuffer()).byteLength).toBeGreaterThan(0);
    const fetched = await fetch(`${others[0]!.url}/mj/task/${id}/fetch`, {
      headers: { authorization: `Bearer ${u.key}` },
    });
    expect(((await fetched.json()) as { status: string }).status).toBe('SUCCESS');
  });

  test('the books balance for every user: quota = granted − consumed + refunded', async () => {
    const rows = await pg.db.$client<{ id: number; quota: number; from_logs: number }[]>`
      SELECT u.id, u.quota, COALESCE((SELECT sum(CASE type WHEN 4 THEN quota WHEN 2 THEN -quota WHEN 6 THEN quota END)
        FROM logs WHERE user_id = u.id), 0)::bigint AS from_logs FROM users u`;
    for (const r of rows) expect(Number(r.from_logs)).toBe(r.quota);
  });
});
