import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { createTRPCClient, httpBatchLink, TRPCClientError } from '@trpc/client';
import type { AppRouter } from '../../src/trpc/routers/index.ts';
import { createTestUser, type TestUser } from '../helpers/factories.ts';
import { ROOT_HEADERS, ROOT_TOKEN, startTestServer, type TestServer } from '../helpers/server.ts';

let srv: TestServer;
let user: TestUser;

const clientFor = (headers: Record<string, string>) =>
  createTRPCClient<AppRouter>({ links: [httpBatchLink({ url: `${srv.url}/trpc`, headers: () => headers })] });

async function codeOf(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TRPCClientError);
  return ((err as TRPCClientError<AppRouter>).data as { code: string }).code;
}

beforeAll(async () => {
  srv = await startTestServer();
  user = createTestUser(srv.db, { quota: 1000 });
});
afterAll(() => srv.stop());

describe('user.*', () => {
  test('self shows the caller without secrets', async () => {
    const me = await clientFor(user.headers).user.self.query();
    expect(me).toEqual({
      id: user.id,
      username: user.username,
      display_name: user.username,
      role: 1,
      status: 1,
      quota: 1000,
      used_quota: 0,
      request_count: 0,
    });
  });

  test('regenerateAccessToken: the old token stops working', async () => {
    const u = createTestUser(srv.db);
    const { access_token } = await clientFor(u.headers).user.regenerateAccessToken.mutate();
    expect(access_token.length).toBeGreaterThanOrEqual(32);
    expect(await codeOf(clientFor(u.headers).user.self.query())).toBe('UNAUTHORIZED');
    const me = await clientFor({
      authorization: `Bearer ${access_token}`,
      'new-api-user': String(u.id),
    }).user.self.query();
    expect(me.id).toBe(u.id);
  });
});

describe('token.*', () => {
  test('create returns the full key once; list masks it; update and delete own keys only', async () => {
    const c = clientFor(user.headers);
    const created = await c.token.create.mutate({ name: 'main', remain_quota: 500 });
    expect(created.key).toMatch(/^sk-[A-Za-z0-9]{48}$/);
    expect(created.remain_quota).toBe(500);
    expect(created.unlimited_quota).toBe(false);
    expect(created.expired_time).toBe(-1);
    const list = await c.token.list.query();
    expect(list.total).toBe(1);
    expect(list.items[0]!.key).not.toBe(created.key);
    expect(list.items[0]!.key).not.toContain(created.key.slice(6, 40));
    const updated = await c.token.update.mutate({ id: created.id, status: 2, name: 'renamed' });
    expect(updated.status).toBe(2);
    expect(updated.name).toBe('renamed');
    const other = clientFor(createTestUser(srv.db).headers);
    expect(await codeOf(other.token.update.mutate({ id: created.id, name: 'x' }))).toBe('NOT_FOUND');
    expect(await codeOf(other.token.delete.mutate({ id: created.id }))).toBe('NOT_FOUND');
    expect((await other.token.list.query()).total).toBe(0);
    expect(await c.token.delete.mutate({ id: created.id })).toEqual({ id: created.id });
    expect((await c.token.list.query()).total).toBe(0);
  });

  test('bad input is BAD_REQUEST', async () => {
    const c = clientFor(user.headers);
    expect(await codeOf(c.token.create.mutate({ name: '' }))).toBe('BAD_REQUEST');
    expect(await codeOf(c.token.create.mutate({ name: 'x', remain_quota: -1 }))).toBe('BAD_REQUEST');
    expect(await codeOf(c.token.create.mutate({ name: 'x', expired_time: -5 }))).toBe('BAD_REQUEST');
  });
});

describe('admin.user.*', () => {
  test('admins create common users; only root creates admins', async () => {
    const root = clientFor(ROOT_HEADERS);
    const admin = await root.admin.user.create.mutate({ username: 'ada', role: 10, quota: 5 });
    expect(admin.role).toBe(10);
    expect(admin.access_token.length).toBeGreaterThanOrEqual(32);
    const asAdmin = clientFor({ authorization: `Bearer ${admin.access_token}`, 'new-api-user': String(admin.id) });
    const common = await asAdmin.admin.user.create.mutate({ username: 'cid' });
    expect(common.role).toBe(1);
    expect(await codeOf(asAdmin.admin.user.create.mutate({ username: 'eve', role: 10 }))).toBe('FORBIDDEN');
    expect(await codeOf(asAdmin.admin.user.create.mutate({ username: 'cid' }))).toBe('CONFLICT');
    expect(await codeOf(clientFor(user.headers).admin.user.create.mutate({ username: 'zed' }))).toBe('FORBIDDEN');
    const listed = await root.admin.user.list.query({ page_size: 100 });
    expect(listed.items.find((u) => u.username === 'cid')).toBeDefined();
    expect(JSON.stringify(listed)).not.toContain(admin.access_token);
    expect(JSON.stringify(listed)).not.toContain(ROOT_TOKEN);
  });

  test('update: status, quota, display_name; disabled users are locked out; root is protected', async () => {
    const root = clientFor(ROOT_HEADERS);
    const target = createTestUser(srv.db);
    const updated = await root.admin.user.update.mutate({ id: target.id, quota: 777, display_name: 'Tee', status: 2 });
    expect(updated).toMatchObject({ quota: 777, display_name: 'Tee', status: 2 });
    expect(await codeOf(clientFor(target.headers).user.self.query())).toBe('FORBIDDEN');
    expect(await codeOf(root.admin.user.update.mutate({ id: 1, status: 2 }))).toBe('BAD_REQUEST');
    expect(await codeOf(root.admin.user.update.mutate({ id: 99999, quota: 1 }))).toBe('NOT_FOUND');
    expect(await codeOf(root.admin.user.update.mutate({ id: target.id, quota: -1 }))).toBe('BAD_REQUEST');
  });
});

describe('admin.channel.*', () => {
  test('CRUD with the key masked in every output', async () => {
    const root = clientFor(ROOT_HEADERS);
    const secret = 'channel-secret-value-123456';
    const ch = await root.admin.channel.create.mutate({
      name: 'up1',
      base_url: 'http://127.0.0.1:9/',
      key: secret,
      priority: 5,
      weight: 3,
    });
    expect(ch.base_url).toBe('http://127.0.0.1:9');
    expect(ch.status).toBe(1);
    expect(ch.key).not.toBe(secret);
    const list = await root.admin.channel.list.query();
    expect(JSON.stringify(list)).not.toContain(secret);
    const upd = await root.admin.channel.update.mutate({ id: ch.id, status: 2, priority: 1 });
    expect(upd).toMatchObject({ status: 2, priority: 1 });
    expect(await codeOf(root.admin.channel.create.mutate({ name: 'bad', base_url: 'ftp://x', key: '' }))).toBe(
      'BAD_REQUEST',
    );
    expect(
      await codeOf(
        root.admin.channel.create.mutate({ name: 'long', base_url: `http://h/${'a'.repeat(2048)}`, key: '' }),
      ),
    ).toBe('BAD_REQUEST');
    expect(await codeOf(clientFor(user.headers).admin.channel.list.query())).toBe('FORBIDDEN');
    expect(await root.admin.channel.delete.mutate({ id: ch.id })).toEqual({ id: ch.id });
    expect(await codeOf(root.admin.channel.delete.mutate({ id: ch.id }))).toBe('NOT_FOUND');
  });
});

describe('admin.option.*', () => {
  test('list shows every option with its default', async () => {
    const list = await clientFor(ROOT_HEADERS).admin.option.list.query();
    const byKey = Object.fromEntries(list.items.map((i) => [i.key, i.value]));
    expect(byKey).toMatchObject({
      mj_forward_url_enabled: true,
      mj_action_check_success_enabled: true,
      mj_notify_enabled: false,
      mj_account_filter_enabled: false,
      mj_mode_clear_enabled: false,
      mj_webhooks_enabled: true,
      mj_upstream_notify_enabled: false,
      task_retention_days: 0,
      log_retention_days: 0,
    });
    expect((byKey.mj_prices as Record<string, number>).mj_imagine).toBe(0.1);
    expect((byKey.mj_prices as Record<string, number>).mj_video).toBe(0.8);
    expect(list.total).toBe(10);
  });

  test('list pages like every other list', async () => {
    const root = clientFor(ROOT_HEADERS);
    const all = (await root.admin.option.list.query()).items.map((i) => i.key);
    const second = await root.admin.option.list.query({ p: 2, page_size: 3 });
    expect(second).toMatchObject({ total: 10, page: 2, page_size: 3 });
    expect(second.items.map((i) => i.key)).toEqual(all.slice(3, 6));
    expect((await root.admin.option.list.query({ p: 5, page_size: 3 })).items).toEqual([]);
  });

  test('update validates per option and persists', async () => {
    const root = clientFor(ROOT_HEADERS);
    expect(await codeOf(root.admin.option.update.mutate({ key: 'nope', value: true }))).toBe('BAD_REQUEST');
    expect(await codeOf(root.admin.option.update.mutate({ key: 'mj_notify_enabled', value: 'yes' }))).toBe(
      'BAD_REQUEST',
    );
    expect(await codeOf(root.admin.option.update.mutate({ key: 'mj_prices', value: { mj_imagine: -1 } }))).toBe(
      'BAD_REQUEST',
    );
    await root.admin.option.update.mutate({ key: 'mj_prices', value: { mj_imagine: 0.2 } });
    expect(srv.deps.options.quotaFor('mj_imagine')).toBe(100_000);
    const row = srv.db.$client.query("SELECT value FROM options WHERE key = 'mj_prices'").get() as { value: string };
    expect(JSON.parse(row.value)).toEqual({ mj_imagine: 0.2 });
    await root.admin.option.update.mutate({ key: 'mj_notify_enabled', value: true });
    expect(srv.deps.options.get('mj_notify_enabled')).toBe(true);
    expect(
      await codeOf(clientFor(user.headers).admin.option.update.mutate({ key: 'mj_notify_enabled', value: false })),
    ).toBe('FORBIDDEN');
  });
});

describe('admin.log.list', () => {
  test('paginated, newest first, filterable by type', async () => {
    const now = Date.now();
    srv.db.$client.run(
      'INSERT INTO logs (user_id, type, content, quota, created_time) VALUES (?, 2, ?, 5, ?), (?, 6, ?, 5, ?)',
      [user.id, 'charge', now, user.id, 'refund', now],
    );
    const root = clientFor(ROOT_HEADERS);
    const all = await root.admin.log.list.query({ page_size: 1 });
    expect(all.page_size).toBe(1);
    expect(all.total).toBeGreaterThanOrEqual(2);
    expect(all.items[0]!.content).toBe('refund');
    const refunds = await root.admin.log.list.query({ type: 6 });
    expect(refunds.items.every((l) => l.type === 6)).toBe(true);
  });
});
