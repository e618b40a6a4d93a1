import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { IMAGINE_PRICE, LOG_TYPE, type RelayWorld, relayWorld } from './relay-fixture.ts';

/** Concurrent submits can never overdraw: the charge is one guarded synchronous transaction. */
describe('relay billing under concurrency', () => {
  let w: RelayWorld;
  beforeAll(async () => {
    w = await relayWorld();
  });
  afterAll(() => w.stop());

  const fire = (n: number, headers: Record<string, string>) =>
    Promise.all(
      Array.from({ length: n }, (_, i) => w.post('/mj/submit/imagine', { prompt: `race fox ${i}` }, headers)),
    );

  test('user quota for exactly 5 imagines, 20 at once: 5 accepted, quota 0, 5 consume logs', async () => {
    const c = await w.caller(IMAGINE_PRICE * 5, IMAGINE_PRICE * 100);
    w.sims[0]!.clearRequests();
    const answers = await fire(20, c.headers);
    const accepted = answers.filter((a) => a.status === 200 && a.json.code === 1);
    const refused = answers.filter((a) => a.status !== 200);
    expect(accepted.length).toBe(5);
    expect(refused.length).toBe(15);
    for (const r of refused)
      expect(r.json).toEqual({ code: 4, description: 'quota_not_enough', result: null, properties: {} });
    expect(await w.quota(c.userId)).toBe(0);
    expect(await w.logCount(c.userId, LOG_TYPE.consume)).toBe(5);
    expect((await w.tasksOf(c.userId)).length).toBe(5);
    expect(w.sims[0]!.requests.length).toBe(5);
    expect(await w.remainQuota(c.tokenId)).toBe(IMAGINE_PRICE * 95);
  });

  test('key remain_quota for exactly 5 imagines, 20 at once: 5 accepted, remain_quota 0', async () => {
    const c = await w.caller(IMAGINE_PRICE * 100, IMAGINE_PRICE * 5);
    const answers = await fire(20, c.headers);
    const accepted = answers.filter((a) => a.status === 200 && a.json.code === 1);
    expect(accepted.length).toBe(5);
    // Later requests may already see the exhausted key at authentication (401) instead of the charge guard (400).
    for (const r of answers.filter((a) => a.status !== 200)) {
      if (r.status === 400) expect(r.json.description).toBe('quota_not_enough');
      else expect([r.status, r.json.error?.code]).toEqual([401, 'token_exhausted']);
    }
    expect(await w.remainQuota(c.tokenId)).toBe(0);
    expect(await w.quota(c.userId)).toBe(IMAGINE_PRICE * 95);
    expect(await w.logCount(c.userId, LOG_TYPE.consume)).toBe(5);
    expect((await w.tasksOf(c.userId)).length).toBe(5);
  });

  test('concurrent rejections refund each charge exactly once', async () => {
    const c = await w.caller(IMAGINE_PRICE * 5);
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => w.post('/mj/submit/imagine', { prompt: 'fox --sim-banned' }, c.headers)),
    );
    const forwarded = answers.filter((a) => a.json.code === 24).length;
    expect(forwarded).toBeGreaterThanOrEqual(5);
    expect(await w.quota(c.userId)).toBe(IMAGINE_PRICE * 5);
    expect(await w.logCount(c.userId, LOG_TYPE.refund)).toBe(forwarded);
    expect(await w.logCount(c.userId, LOG_TYPE.consume)).toBe(forwarded);
    for (const t of await w.tasksOf(c.userId)) {
      expect(t.status).toBe('FAILURE');
      expect(t.quota).toBe(0);
    }
  });
});
