import { describe, expect, test } from 'bun:test';
import type { ManagementStore } from '../../src/contract/index.ts';

/**
 * What every adapter of the management store must do, written against the interface only, so
 * the PostgreSQL adapter runs the same suite: `managementStoreSuite('postgres', () => ...)`.
 * `make` returns a store over an empty, migrated database.
 */
export function managementStoreSuite(name: string, make: () => Promise<ManagementStore>): void {
  const user = (username: string, now = 10) => ({
    username,
    displayName: username,
    role: 1,
    status: 1,
    accessToken: `${username}-token-0123456789`,
    createdTime: now,
  });
  const channel = (name: string, status = 1, priority = 0) => ({
    name,
    baseUrl: `http://${name}.test:8080`,
    key: `${name}-key`,
    status,
    priority,
    weight: 1,
    createdTime: 1,
  });

  describe(`management store (${name})`, () => {
    test('users: root once, a taken username, a patch with a logged quota change in one go', async () => {
      const s = await make();
      expect(await s.users.createRootIfEmpty('root-token-0123456789', 1)).toBe(true);
      expect(await s.users.createRootIfEmpty('other-token-0123456789', 2)).toBe(false);
      expect(await s.users.byId(1)).toMatchObject({
        username: 'root',
        role: 100,
        quota: 0,
        accessToken: 'root-token-0123456789',
      });
      const ann = (await s.users.create(user('ann'), { quota: 500, who: 'by admin 1 (root)', now: 11 }))!;
      expect(ann).toMatchObject({ username: 'ann', quota: 500 });
      expect(await s.users.create(user('ann'), null)).toBeNull();
      expect(
        await s.users.update(
          ann.id,
          { displayName: 'Ann B', status: 2 },
          { quota: 200, who: 'by admin 1 (root)', now: 12 },
        ),
      ).toMatchObject({ displayName: 'Ann B', status: 2, quota: 200 });
      // Setting the same quota again logs nothing.
      await s.users.update(ann.id, {}, { quota: 200, who: 'again', now: 13 });
      expect(await s.users.update(999_999, { role: 10 }, null)).toBeNull();
      const logs = await s.logs.list({ userId: ann.id }, 10, 0);
      expect(logs.total).toBe(2);
      expect(logs.rows.map((r) => [r.type, r.quota, r.content])).toEqual([
        [4, -300, 'quota set to 200 (-300) by admin 1 (root)'],
        [4, 500, 'quota set to 500 (+500) by admin 1 (root)'],
      ]);
      expect((await s.logs.list({ type: 2 }, 10, 0)).total).toBe(0);
      await s.users.setAccessToken(ann.id, 'new-token-0123456789');
      expect(await s.users.byAccessToken('ann-token-0123456789')).toBeNull();
      expect((await s.users.byAccessToken('new-token-0123456789'))?.id).toBe(ann.id);
      const page = await s.users.list(1, 0);
      expect(page.total).toBe(2);
      expect(page.rows.map((r) => r.id)).toEqual([ann.id]);
    });

    test('tokens: scoped to their user for update and delete; touch; newest first', async () => {
      const s = await make();
      await s.users.createRootIfEmpty('root-token-0123456789', 1);
      const bob = (await s.users.create(user('bob'), null))!;
      const base = {
        name: 'k',
        status: 1,
        remainQuota: 0,
        unlimitedQuota: true,
        expiredTime: -1,
        rateLimitPerMinute: 0,
        createdTime: 1,
        webhookSecret: 'whsec_x',
      };
      const first = await s.tokens.create({ ...base, userId: bob.id, key: 'key-one' });
      const second = await s.tokens.create({ ...base, userId: bob.id, key: 'key-two', unlimitedQuota: false });
      expect(second.unlimitedQuota).toBe(false);
      expect((await s.tokens.byKey('key-one'))?.id).toBe(first.id);
      expect(await s.tokens.byKey('key-none')).toBeNull();
      await s.tokens.touch(first.id, 123_456);
      expect((await s.tokens.byKey('key-one'))?.accessedTime).toBe(123_456);
      expect(await s.tokens.update(1, first.id, { name: 'stolen' })).toBeNull();
      expect(await s.tokens.update(bob.id, first.id, { name: 'renamed', status: 2 })).toMatchObject({
        name: 'renamed',
        status: 2,
      });
      expect(await s.tokens.update(bob.id, first.id, {})).toMatchObject({ name: 'renamed' });
      expect((await s.tokens.list(bob.id, 10, 0)).rows.map((r) => r.id)).toEqual([second.id, first.id]);
      // The newest key that can pay: `second` is limited with nothing left, `first` is disabled now.
      expect(await s.tokens.newestUsable(bob.id, 10)).toBeNull();
      await s.tokens.update(bob.id, second.id, { remainQuota: 5 });
      expect((await s.tokens.newestUsable(bob.id, 10))?.id).toBe(second.id);
      await s.tokens.update(bob.id, second.id, { expiredTime: 10 });
      expect(await s.tokens.newestUsable(bob.id, 10)).toBeNull();
      expect((await s.tokens.newestUsable(bob.id, 9))?.id).toBe(second.id);
      expect(await s.tokens.delete(1, first.id)).toBe(false);
      expect(await s.tokens.delete(bob.id, first.id)).toBe(true);
      expect((await s.tokens.list(bob.id, 10, 0)).total).toBe(1);
    });

    test('channels: enabled ones, auto-disable only from enabled, hosts and endpoints of all', async () => {
      const s = await make();
      const a = await s.channels.create(channel('a'));
      const b = await s.channels.create(channel('b', 2));
      expect((await s.channels.enabled()).map((c) => c.id)).toEqual([a.id]);
      await s.channels.autoDisable(b.id);
      expect((await s.channels.byId(b.id))?.status).toBe(2);
      await s.channels.autoDisable(a.id);
      expect((await s.channels.byId(a.id))?.status).toBe(3);
      expect((await s.channels.baseUrls()).sort()).toEqual(['http://a.test:8080', 'http://b.test:8080']);
      expect((await s.channels.endpoints()).find((e) => e.id === b.id)).toEqual({
        id: b.id,
        baseUrl: 'http://b.test:8080',
        key: 'b-key',
      });
      expect(await s.channels.update(a.id, { status: 1, weight: 5 })).toMatchObject({ status: 1, weight: 5 });
      expect(await s.channels.update(a.id, {})).toMatchObject({ id: a.id });
      expect(await s.channels.update(999_999, { name: 'x' })).toBeNull();
      expect(await s.channels.delete(b.id)).toBe(true);
      expect(await s.channels.delete(b.id)).toBe(false);
      expect(await s.channels.list(10, 0)).toMatchObject({ total: 1, rows: [{ id: a.id }] });
    });

    test('options: missing rows only, upsert, read ordered by key', async () => {
      const s = await make();
      await s.options.insertMissing([
        { key: 'z_key', value: '1' },
        { key: 'a_key', value: 'true' },
      ]);
      await s.options.insertMissing([{ key: 'a_key', value: 'false' }]);
      await s.options.upsert({ key: 'z_key', value: '2' });
      expect(await s.options.all()).toEqual([
        { key: 'a_key', value: 'true' },
        { key: 'z_key', value: '2' },
      ]);
    });

    test('demo: nothing without root; a key and one logged grant the first time only', async () => {
      const s = await make();
      const input = {
        name: 'demo',
        baseUrl: 'http://127.0.0.1:4001',
        channelKey: 'k',
        newApiKey: 'demo-key-1',
        newWebhookSecret: 'whsec_1',
        rootQuota: 1000,
        grantWhy: 'demo starting quota',
        now: 5,
      };
      expect(await s.demo.ensure(input)).toBeNull();
      expect((await s.channels.list(10, 0)).total).toBe(0);
      await s.users.createRootIfEmpty('root-token-0123456789', 1);
      expect(await s.demo.ensure(input)).toMatchObject({
        rootId: 1,
        apiKey: 'demo-key-1',
        created: true,
        movedFrom: null,
      });
      const again = await s.demo.ensure({ ...input, baseUrl: 'http://127.0.0.1:5002', newApiKey: 'demo-key-2' });
      expect(again).toMatchObject({ apiKey: 'demo-key-1', created: false, movedFrom: 'http://127.0.0.1:4001' });
      expect((await s.users.byId(1))?.quota).toBe(1000);
      expect((await s.logs.list({ userId: 1 }, 10, 0)).rows.map((r) => r.content)).toEqual([
        'quota +1000 demo starting quota',
      ]);
      expect(await s.deliveryLog.list(null, 10, 0)).toEqual({ rows: [], total: 0 });
      expect(await s.operatorStats.unfinishedByChannel()).toEqual([]);
    });
  });
}
