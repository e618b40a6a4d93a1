import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { createApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import type { AppDeps } from '../../src/deps.ts';
import { OptionsStore } from '../../src/domain/options.ts';
import { ManualClock } from '../../src/lib/clock.ts';
import { createLogger } from '../../src/lib/logger.ts';
import { createMetrics } from '../../src/lib/metrics.ts';
import { type Parts, pgParts, sqliteParts } from '../helpers/backends.ts';

/**
 * U+0000 in anything a client sends (SPEC §10: bad input is a 400 naming the field). PostgreSQL's
 * text cannot hold it, so it used to be a 500 there and a stored value on SQLite: every surface now
 * refuses it before any store runs, with the same answer on both databases.
 */
const T0 = 1_790_000_000_000;
const TOKEN = 'nul-root-access-token-0123456789';
const H = { authorization: `Bearer ${TOKEN}`, 'new-api-user': '1', 'content-type': 'application/json' };

for (const [name, open] of [
  ['sqlite', sqliteParts],
  ['postgres', pgParts],
] as const) {
  describe(`U+0000 in client input (${name})`, () => {
    let parts: Parts;
    let url = '';
    let key = '';
    let stop: () => Promise<void> = async () => {};
    beforeAll(async () => {
      const clock = new ManualClock(T0);
      parts = await open(clock);
      await parts.all(
        "INSERT INTO users (username, role, quota, access_token, created_time) VALUES ('root', 100, 1000000, $1, $2)",
        TOKEN,
        T0,
      );
      key = 'n'.repeat(48);
      await parts.all(
        "INSERT INTO tokens (user_id, name, key, unlimited_quota, created_time) VALUES (1, 'k', $1, true, $2)",
        key,
        T0,
      );
      const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', UPDATE_TASK: 'false' });
      const deps: AppDeps = {
        ...parts,
        config,
        clock,
        options: await OptionsStore.bootstrap(parts.store.options, config.optionOverrides),
        metrics: createMetrics(),
        logger: createLogger('error', {}, () => {}),
        serverAddress: () => 'http://gw.test',
        fetch: globalThis.fetch,
        pollerRole: () => 'off',
        startedAt: T0,
        version: 'test',
      };
      const app = createApp(deps).listen({ port: 0, hostname: '127.0.0.1' });
      url = `http://127.0.0.1:${app.server?.port}`;
      stop = async () => {
        await app.stop(true);
        await parts.close();
      };
    });
    afterAll(() => stop());

    async function answer(path: string, init: RequestInit = {}): Promise<{ status: number; body: string }> {
      const res = await fetch(`${url}${path}`, {
        ...init,
        headers: { ...H, ...(init.headers as Record<string, string> | undefined) },
      });
      return { status: res.status, body: await res.text() };
    }

    test('tRPC mutations and queries name the field', async () => {
      const create = await answer('/trpc/token.create', { method: 'POST', body: '{"name":"a\\u0000b"}' });
      expect(create.status).toBe(400);
      expect(JSON.parse(create.body).error.message).toBe('name may not contain U+0000');
      const batch = await answer('/trpc/token.create,token.create?batch=1', {
        method: 'POST',
        body: '{"0":{"name":"ok"},"1":{"name":"x\\u0000"}}',
      });
      expect(batch.status).toBe(400);
      expect(JSON.parse(batch.body).error.message).toBe('name may not contain U+0000');
      const channel = await answer('/trpc/admin.channel.create', {
        method: 'POST',
        body: '{"name":"c","base_url":"http://127.0.0.1:1","key":"k\\u0000"}',
      });
      expect(JSON.parse(channel.body).error.message).toBe('key may not contain U+0000');
      const get = await answer(`/trpc/mj.get?input=${encodeURIComponent('{"mj_id":"a\\u0000"}')}`);
      expect(get.status).toBe(400);
      expect(JSON.parse(get.body).error.message).toBe('input.mj_id may not contain U+0000');
      // Nothing was written by the refused calls.
      expect(await parts.all<{ n: number }>("SELECT COUNT(*) AS n FROM tokens WHERE name <> 'k'")).toEqual([{ n: 0 }]);
    });

    test('REST query parameters and relay bodies and paths name the field', async () => {
      const rest = await answer('/api/mj/self?mj_id=a%00b');
      expect(rest.status).toBe(400);
      expect(JSON.parse(rest.body)).toEqual({ success: false, message: 'mj_id may not contain U+0000' });
      const relayHeaders = { authorization: `Bearer sk-${key}` };
      const list = await answer('/mj/task/list-by-condition', {
        method: 'POST',
        headers: relayHeaders,
        body: '{"ids":["1","2\\u0000"]}',
      });
      expect(list.status).toBe(400);
      expect(JSON.parse(list.body)).toMatchObject({ code: 4, description: 'ids[1] may not contain U+0000' });
      const submit = await answer('/mj/submit/imagine', {
        method: 'POST',
        headers: relayHeaders,
        body: '{"prompt":"a\\u0000cat"}',
      });
      expect(submit.status).toBe(400);
      expect(JSON.parse(submit.body)).toMatchObject({ code: 4, description: 'prompt may not contain U+0000' });
      expect(await parts.all<{ n: number }>('SELECT COUNT(*) AS n FROM tasks')).toEqual([{ n: 0 }]);
      const fetched = await answer('/mj/task/ab%00c/fetch', { headers: relayHeaders });
      expect(fetched.status).toBe(400);
      expect(JSON.parse(fetched.body)).toMatchObject({ code: 4, description: 'path may not contain U+0000' });
    });

    test('text that only looks like an escape is ordinary input', async () => {
      const ok = await answer('/trpc/token.create', {
        method: 'POST',
        body: JSON.stringify({ name: 'back\\u0000slash' }),
      });
      expect(ok.status).toBe(200);
      expect(JSON.parse(ok.body).result.data.name).toBe('back\\u0000slash');
    });
  });
}
