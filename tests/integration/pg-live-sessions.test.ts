import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { createTRPCClient, httpBatchLink } from '@trpc/client';
import type { AppRouter } from '../../src/trpc/routers/index.ts';
import { gatewayLinks } from '../../src/web/links.ts';
import { type TempPg, tempPg } from '../helpers/pg.ts';
import { type GatewayProcess, spawnGateway } from '../helpers/process.ts';
import { waitFor } from '../helpers/server.ts';

/**
 * SPEC §10 across replicas on PostgreSQL: a live stream opened on one gateway process ends within
 * 5 s when another process regenerates its token, bans its user or takes its admin role.
 */

const ROOT_TOKEN = 'pg-live-sessions-root-token-0123456789';
const ROOT = { authorization: `Bearer ${ROOT_TOKEN}`, 'new-api-user': '1' };

let pg: TempPg;
const procs: GatewayProcess[] = [];
let a: string;
let b: string;

async function start(): Promise<string> {
  const g = spawnGateway({
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_URL: pg.url,
    DATABASE_POOL_SIZE: '4',
    INITIAL_ROOT_ACCESS_TOKEN: ROOT_TOKEN,
    READ_WORKERS: '0',
    UPDATE_TASK: 'false',
    LOG_LEVEL: 'info',
  });
  procs.push(g);
  const m = await g.waitForOutput(/listening on http:\/\/[^:\s]+:(\d+)/, 'listening');
  return `http://127.0.0.1:${m[1]}`;
}

const client = (url: string, headers: Record<string, string>) =>
  createTRPCClient<AppRouter>({ links: [httpBatchLink({ url: `${url}/trpc`, headers: () => headers })] });

async function newUser(role: 1 | 10): Promise<{ id: number; accessToken: string; headers: Record<string, string> }> {
  const u = await client(b, ROOT).admin.user.create.mutate({
    username: `live${Math.random().toString(36).slice(2, 8)}`,
    role,
  });
  return {
    id: u.id,
    accessToken: u.access_token,
    headers: { authorization: `Bearer ${u.access_token}`, 'new-api-user': String(u.id) },
  };
}

/** A stream on replica `a` through the dashboard's links; resolves once it is listening. */
async function streamOnA(u: { id: number; accessToken: string }, input: { all?: boolean } = {}) {
  const errors: Error[] = [];
  let started = false;
  const live = createTRPCClient<AppRouter>({ links: gatewayLinks({ url: a, token: u.accessToken, userId: u.id }) });
  const sub = live.mj.onTaskUpdate.subscribe(input, {
    onStarted: () => (started = true),
    onError: (e) => errors.push(e),
  });
  await waitFor(() => started, 'the stream to start');
  return { errors, stop: () => sub.unsubscribe() };
}

beforeAll(async () => {
  pg = await tempPg();
  a = await start();
  b = await start();
}, 60_000);

afterAll(async () => {
  for (const g of procs) if (g.proc.exitCode === null) g.proc.kill('SIGKILL');
  await Promise.all(procs.map((g) => g.proc.exited));
  await pg?.cleanup();
});

describe("one user's heavy reads on PostgreSQL", () => {
  test('past 1,000 changes or past 8 MiB: { reload: true } instead of the replay', async () => {
    const lastEventId = `oldboot-1-${Date.now() - 3_600_000}`;
    const now = Date.now();
    const many = await newUser(1);
    await pg.db.$client`INSERT INTO tasks (user_id, mj_id, action, prompt, submit_time, updated_time, status, progress)
      SELECT ${many.id}::int, 'many-' || g, 'IMAGINE', 'a cat', ${now}::bigint, ${now}::bigint, 'SUBMITTED', '0%' FROM generate_series(1, 1001) g`;
    const fat = await newUser(1);
    const prompt = '\u0001'.repeat(8179);
    await pg.db
      .$client`INSERT INTO tasks (user_id, mj_id, action, prompt, prompt_en, submit_time, updated_time, status, progress)
      SELECT ${fat.id}::int, 'fat-' || g, 'IMAGINE', ${prompt}, ${prompt}, ${now}::bigint, ${now}::bigint, 'SUBMITTED', '0%' FROM generate_series(1, 200) g`;
    const few = await newUser(1);
    await pg.db.$client`INSERT INTO tasks (user_id, mj_id, action, prompt, submit_time, updated_time, status, progress)
      SELECT ${few.id}::int, 'few-' || g, 'IMAGINE', 'a cat', ${now}::bigint, ${now}::bigint, 'SUBMITTED', '0%' FROM generate_series(1, 3) g`;
    for (const [u, expected] of [
      [many, 'reload'],
      [fat, 'reload'],
      [few, 'few-'],
    ] as const) {
      const got: unknown[] = [];
      const live = createTRPCClient<AppRouter>({ links: gatewayLinks({ url: a, token: u.accessToken, userId: u.id }) });
      const sub = live.mj.onTaskUpdate.subscribe({ lastEventId }, { onData: (d) => got.push(d.data) });
      const first = await waitFor(() => got[0], 'the first event');
      sub.unsubscribe();
      if (expected === 'reload') expect(first).toEqual({ reload: true });
      else expect((first as { mj_id: string }).mj_id).toStartWith(expected);
    }
  }, 30_000);

  test('list-by-condition: sized from stored lengths first, then 413 past 8 MiB; fewer ids answer', async () => {
    const u = await newUser(1);
    const prompt = '\u0001'.repeat(8179);
    await pg.db
      .$client`INSERT INTO tasks (user_id, mj_id, action, prompt, prompt_en, submit_time, updated_time, status, progress)
      SELECT ${u.id}::int, 'big-' || g, 'IMAGINE', ${prompt}, ${prompt}, ${Date.now()}::bigint, ${Date.now()}::bigint, 'FAILURE', '0%' FROM generate_series(1, 200) g`;
    const key = (await client(b, u.headers).token.create.mutate({ name: 'k', unlimited_quota: true })).key;
    const ask = (ids: string[]) =>
      fetch(`${a}/mj/task/list-by-condition`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ ids }),
      });
    const all = await ask(Array.from({ length: 200 }, (_, i) => `big-${i + 1}`));
    expect(all.status).toBe(413);
    expect(((await all.json()) as { code: number }).code).toBe(4);
    const some = await ask(['big-1', 'big-2']);
    expect(some.status).toBe(200);
    expect((await some.json()) as unknown[]).toHaveLength(2);
  }, 30_000);
});

describe('a stream on one replica ends when another replica revokes it', () => {
  test('the token regenerated through another replica', async () => {
    const u = await newUser(1);
    const s = await streamOnA(u);
    await client(b, u.headers).user.regenerateAccessToken.mutate();
    const err = await waitFor(() => s.errors[0], 'the stream to end', 5_000);
    s.stop();
    expect(err.message).toBe('Unauthorized, invalid access token');
  }, 20_000);

  test('the user banned through another replica', async () => {
    const u = await newUser(1);
    const s = await streamOnA(u);
    await client(b, ROOT).admin.user.update.mutate({ id: u.id, status: 2 });
    const err = await waitFor(() => s.errors[0], 'the stream to end', 5_000);
    s.stop();
    expect(err.message).toBe('User has been banned');
  }, 20_000);

  test("an admin's { all: true } stream, when another replica takes the role", async () => {
    const u = await newUser(10);
    const s = await streamOnA(u, { all: true });
    await client(b, ROOT).admin.user.update.mutate({ id: u.id, role: 1 });
    const err = await waitFor(() => s.errors[0], 'the stream to end', 5_000);
    s.stop();
    expect(err.message).toBe('Unauthorized, insufficient privileges');
  }, 20_000);
});
