import { afterAll, beforeAll, expect, test } from 'bun:test';
import { createTRPCClient, httpBatchLink } from '@trpc/client';
import { type Simulator, startSimulator } from '../../src/simulator/index.ts';
import type { AppRouter } from '../../src/trpc/routers/index.ts';
import { gatewayLinks } from '../../src/web/links.ts';
import { type TempPg, tempPg } from '../helpers/pg.ts';
import { type GatewayProcess, spawnGateway } from '../helpers/process.ts';
import { waitFor } from '../helpers/server.ts';

/**
 * On PostgreSQL a replica's live feed hears of its own writes only through the LISTEN echo of the
 * store's NOTIFY (the writers' direct publish is dropped there, so no row is read twice): a page
 * connected to the replica that took the submit still sees the task appear and move to 100%.
 */

const ROOT_TOKEN = 'pg-live-own-root-token-0123456789';
const ROOT = { authorization: `Bearer ${ROOT_TOKEN}`, 'new-api-user': '1' };
const SECRET = 'pg-live-own-sim-secret';

let pg: TempPg;
let sim: Simulator;
let gw: GatewayProcess;
let url = '';

beforeAll(async () => {
  pg = await tempPg();
  sim = await startSimulator({ secret: SECRET, stepMs: 20, imageSize: 16 });
  gw = spawnGateway({
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_URL: pg.url,
    DATABASE_POOL_SIZE: '4',
    POLL_INTERVAL_MS: '100',
    INITIAL_ROOT_ACCESS_TOKEN: ROOT_TOKEN,
    READ_WORKERS: '0',
    LOG_LEVEL: 'info',
  });
  url = `http://127.0.0.1:${(await gw.waitForOutput(/listening on http:\/\/[^:]+:(\d+)/, 'listening'))[1]}`;
  const root = createTRPCClient<AppRouter>({ links: [httpBatchLink({ url: `${url}/trpc`, headers: () => ROOT })] });
  await root.admin.channel.create.mutate({ name: 'sim', base_url: sim.url, key: SECRET });
}, 60_000);

afterAll(async () => {
  await gw?.stop();
  await sim?.stop();
  await pg?.cleanup();
});

test('a page on the replica that took the submit sees the task appear and reach 100%', async () => {
  const root = createTRPCClient<AppRouter>({ links: [httpBatchLink({ url: `${url}/trpc`, headers: () => ROOT })] });
  const user = await root.admin.user.create.mutate({ username: 'own', quota: 1_000_000 });
  const headers = { authorization: `Bearer ${user.access_token}`, 'new-api-user': String(user.id) };
  const token = await createTRPCClient<AppRouter>({
    links: [httpBatchLink({ url: `${url}/trpc`, headers: () => headers })],
  }).token.create.mutate({ name: 'k', unlimited_quota: true });
  const seen: Array<{ id: number; mj_id: string; progress: string }> = [];
  let ready!: () => void;
  const started = new Promise<void>((r) => (ready = r));
  const live = createTRPCClient<AppRouter>({ links: gatewayLinks({ url, token: user.access_token, userId: user.id }) });
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
    const res = await fetch(`${url}/mj/submit/imagine`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'seen here' }),
    });
    expect(res.status).toBe(200);
    const mjId = ((await res.json()) as { result: string }).result;
    await waitFor(
      () => seen.some((e) => e.mj_id === mjId && e.progress === '100%'),
      'the task at 100% on the same replica',
      15_000,
    );
    expect(new Set(seen.map((e) => e.id)).size).toBe(1);
  } finally {
    sub.unsubscribe();
  }
}, 60_000);
