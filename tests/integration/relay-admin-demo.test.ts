import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { createTRPCClient, httpBatchLink, TRPCClientError } from '@trpc/client';
import { LOG_TYPE } from '../../src/contract/constants.ts';
import { startDemo } from '../../src/demo.ts';
import type { AppRouter } from '../../src/trpc/routers/index.ts';
import { addUser, quotaOf, updateRow } from '../helpers/rows.ts';
import { ROOT_HEADERS, ROOT_TOKEN } from '../helpers/server.ts';
import { type RelayWorld, relayWorld, SIM_SECRETS } from './relay-fixture.ts';

const client = (url: string, headers: Record<string, string>) =>
  createTRPCClient<AppRouter>({ links: [httpBatchLink({ url: `${url}/trpc`, headers: () => headers })] });

describe('admin.channel.test', () => {
  let w: RelayWorld;
  beforeAll(async () => {
    w = await relayWorld();
  });
  afterAll(() => w.stop());

  test('a healthy channel: success with a latency, called with its key', async () => {
    w.sims[0]!.clearRequests();
    const out = await client(w.srv.url, ROOT_HEADERS).admin.channel.test.mutate({ id: w.channelIds[0]! });
    expect(out.success).toBe(true);
    expect(out.status).toBe(200);
    expect(out.latency_ms).toBeGreaterThanOrEqual(0);
    expect(w.sims[0]!.requests.map((r) => [r.method, r.path, r.secret])).toEqual([
      ['POST', '/mj/task/list-by-condition', SIM_SECRETS[0]!],
    ]);
  });

  test('a wrong key, a closed port and a garbage answer are reported, not thrown', async () => {
    const api = client(w.srv.url, ROOT_HEADERS);
    const wrongKey = await w.addChannel(w.sims[0]!.url, { key: 'wrong', status: 2 });
    const r1 = await api.admin.channel.test.mutate({ id: wrongKey });
    expect(r1).toMatchObject({ success: false, status: 401 });
    expect(r1.message).toContain('key');

    const s = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response('x') });
    const port = s.port;
    await s.stop(true);
    const dead = await w.addChannel(`http://127.0.0.1:${port}`, { key: 'k', status: 2 });
    const r2 = await api.admin.channel.test.mutate({ id: dead });
    expect(r2.success).toBe(false);
    expect(r2.status).toBeUndefined();
    expect(r2.message).toBeString();

    w.sims[0]!.setFault('garbage');
    try {
      const r3 = await api.admin.channel.test.mutate({ id: w.channelIds[0]! });
      expect(r3).toMatchObject({ success: false, status: 200 });
    } finally {
      w.sims[0]!.setFault('none');
    }
  });

  test('unknown channel is NOT_FOUND; a common user is FORBIDDEN', async () => {
    const err = await client(w.srv.url, ROOT_HEADERS)
      .admin.channel.test.mutate({ id: 999_999 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TRPCClientError);
    expect((err as TRPCClientError<AppRouter>).data?.code).toBe('NOT_FOUND');
    const u = await addUser(w.srv.handle);
    const denied = await client(w.srv.url, u.headers)
      .admin.channel.test.mutate({ id: w.channelIds[0]! })
      .catch((e: unknown) => e);
    expect((denied as TRPCClientError<AppRouter>).data?.code).toBe('FORBIDDEN');
  });
});

describe('DEMO mode', () => {
  let w: RelayWorld;
  beforeAll(async () => {
    w = await relayWorld({ sims: 0 });
  });
  afterAll(() => w.stop());

  const demoChannels = () =>
    w.srv.sql<{ id: number; status: number; key: string }>(
      "SELECT id, status, key FROM channels WHERE name = 'demo' ORDER BY id",
    );
  const demoTokens = async () =>
    (
      await w.srv.sql<{ id: number; key: string; webhookSecret: string; unlimitedQuota: boolean | number }>(
        `SELECT id, key, webhook_secret AS "webhookSecret", unlimited_quota AS "unlimitedQuota" FROM tokens WHERE user_id = 1 AND name = 'demo' ORDER BY id`,
      )
    ).map((t) => ({ ...t, unlimitedQuota: Boolean(t.unlimitedQuota) }));
  const rootQuota = () => quotaOf(w.srv.handle, 1);

  test('registers the simulator as channel demo, gives root a key and quota, prints how to use them', async () => {
    const lines: string[] = [];
    const demo = await startDemo(w.srv.deps, { stepMs: 0, print: (l) => lines.push(l), rootCreated: true });
    try {
      const [ch] = await demoChannels();
      expect(ch).toBeDefined();
      expect(ch!.status).toBe(1);
      expect(ch!.key.length).toBeGreaterThanOrEqual(16);
      const [tok] = await demoTokens();
      expect(tok!.unlimitedQuota).toBe(true);
      expect(tok!.webhookSecret).toMatch(/^whsec_[A-Za-z0-9]{32}$/); // demo submits with a notifyHook get signed deliveries
      expect(await rootQuota()).toBe(50_000_000);
      const text = lines.join('\n');
      expect(text).toContain(ROOT_TOKEN);
      expect(text).toContain(`sk-${tok!.key}`);
      expect(text).toContain(`${w.srv.deps.serverAddress()}/mj/submit/imagine`);
      expect(text).toContain('/mj/task/');
      expect(text).toContain('/api/mj/self');
      expect(text).toContain('New-Api-User: 1');
      expect(text).toContain(`Dashboard: open ${w.srv.deps.serverAddress()}/ in a browser`);
      expect(text.split(ROOT_TOKEN).length - 1).toBe(1); // the root token is printed once
      expect(text).not.toContain(ch!.key);

      // The printed key works end to end against the in-process simulator.
      const key = `sk-${tok!.key}`;
      const sub = await w.post('/mj/submit/imagine', { prompt: 'demo fox' }, { authorization: `Bearer ${key}` });
      expect(sub.json.code).toBe(1);
      expect((await w.task(sub.json.result as string))!.channelId).toBe(ch!.id);
      const list = await w.get('/api/mj/self', ROOT_HEADERS);
      expect(list.json.data.items[0].mj_id).toBe(sub.json.result);
    } finally {
      await demo.stop();
    }
  });

  test('a restart refreshes the channel and reuses the key without granting quota again', async () => {
    const [before] = await demoChannels();
    const quota = await rootQuota();
    await w.setChannel(before!.id, { status: 3 });
    // A demo key from before webhooks existed has no secret: the restart gives it one.
    await updateRow(w.srv.handle, 'tokens', (await demoTokens())[0]!.id, { webhookSecret: '' });
    const lines: string[] = [];
    const demo = await startDemo(w.srv.deps, { stepMs: 0, print: (l) => lines.push(l) });
    try {
      // Secrets are printed once (SPEC §3): this start shows neither, and says where they were.
      const text = lines.join('\n');
      expect(text).not.toContain(ROOT_TOKEN);
      expect(text).not.toContain((await demoTokens())[0]!.key);
      expect(text).toContain('user.regenerateAccessToken');
      expect(text).toContain('token.create');
      const after = await demoChannels();
      expect(after.length).toBe(1);
      expect(after[0]!.id).toBe(before!.id);
      expect(after[0]!.status).toBe(1);
      expect(after[0]!.key).not.toBe(before!.key);
      expect((await demoTokens()).length).toBe(1);
      expect((await demoTokens())[0]!.webhookSecret).toMatch(/^whsec_[A-Za-z0-9]{32}$/);
      expect(await rootQuota()).toBe(quota);
      // The one grant is a system log row, so root's balance too is rebuilt from the logs alone.
      const rows = await w.srv.sql<{ type: number; quota: number; content: string }>(
        'SELECT type, CAST(quota AS INTEGER) AS quota, content FROM logs WHERE user_id = 1 ORDER BY id',
      );
      expect(rows.filter((r) => r.type === LOG_TYPE.system).map((r) => [r.quota, r.content])).toEqual([
        [50_000_000, 'quota +50000000 demo starting quota'],
      ]);
      const sign: Record<number, number> = { [LOG_TYPE.system]: 1, [LOG_TYPE.consume]: -1, [LOG_TYPE.refund]: 1 };
      expect(rows.reduce((sum, r) => sum + (sign[r.type] ?? 0) * r.quota, 0)).toBe(quota);
    } finally {
      await demo.stop();
    }
  });
});
