import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { type Caller, type RelayWorld, relayWorld } from './relay-fixture.ts';

/** SPEC §3 forwarding options, toggled at run time through the options store. */
describe('relay forwarding options', () => {
  let w: RelayWorld;
  let c: Caller;
  beforeAll(async () => {
    w = await relayWorld();
    c = await w.caller();
  });
  afterAll(() => w.stop());

  const forwarded = async (body: Record<string, unknown>, path = '/mj/submit/imagine') => {
    w.sims[0]!.clearRequests();
    const res = await w.post(path, body, c.headers);
    expect(res.json.code).toBe(1);
    return w.sims[0]!.requests[0]!.body as Record<string, unknown>;
  };
  const withOption = async (key: string, value: unknown, run: () => Promise<void>) => {
    const old = (w.srv.deps.options.all() as Record<string, unknown>)[key];
    await w.srv.deps.options.set(key, value);
    try {
      await run();
    } finally {
      await w.srv.deps.options.set(key, old);
    }
  };

  const hook = 'https://hooks.example/mj';
  const filter = { instanceId: 'abc', modes: ['FAST'] };

  test('by default notifyHook and accountFilter are removed; other fields pass as sent', async () => {
    const body = await forwarded({
      prompt: 'fox',
      notifyHook: hook,
      accountFilter: filter,
      state: 'x',
      botType: 'MID_JOURNEY',
      extra: { a: 1 },
    });
    expect(body).toEqual({ prompt: 'fox', state: 'x', botType: 'MID_JOURNEY', extra: { a: 1 } });
  });

  test('mj_notify_enabled keeps notifyHook', async () => {
    await withOption('mj_notify_enabled', true, async () => {
      const body = await forwarded({ prompt: 'fox', notifyHook: hook, accountFilter: filter });
      expect(body).toEqual({ prompt: 'fox', notifyHook: hook });
    });
  });

  test('mj_account_filter_enabled keeps accountFilter', async () => {
    await withOption('mj_account_filter_enabled', true, async () => {
      const body = await forwarded({ prompt: 'fox', notifyHook: hook, accountFilter: filter });
      expect(body).toEqual({ prompt: 'fox', accountFilter: filter });
    });
  });

  test('mode flags stay by default and are removed when mj_mode_clear_enabled', async () => {
    const prompt = 'a fox --fast in snow --relax --ar 16:9 --turbo';
    expect((await forwarded({ prompt })).prompt).toBe(prompt);
    await withOption('mj_mode_clear_enabled', true, async () => {
      expect((await forwarded({ prompt })).prompt).toBe('a fox in snow --ar 16:9');
      expect((await forwarded({ prompt: '--fast-ish fox' })).prompt).toBe('--fast-ish fox');
    });
  });

  test('the filters apply to follow-ups too (simple-change forwarded as change)', async () => {
    const parent = (await w.post('/mj/submit/imagine', { prompt: 'parent' }, c.headers)).json.result as string;
    await w.markSuccess(parent);
    const body = await forwarded({ content: `${parent} U1`, notifyHook: hook, state: 's' }, '/mj/submit/simple-change');
    expect(body).toEqual({ state: 's', taskId: parent, action: 'UPSCALE', index: 1 });
  });

  test('mj_prices sets what a call costs', async () => {
    await withOption('mj_prices', { mj_imagine: 0.2 }, async () => {
      const u = await w.caller(1_000_000);
      const res = await w.post('/mj/submit/imagine', { prompt: 'pricy fox' }, u.headers);
      expect(res.json.code).toBe(1);
      expect(await w.quota(u.userId)).toBe(900_000);
      expect((await w.task(res.json.result as string))!.quota).toBe(100_000);
    });
  });
});
