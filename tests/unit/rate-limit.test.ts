import { afterAll, describe, expect, test } from 'bun:test';
import { loadConfig } from '../../src/config.ts';
import type { DB } from '../../src/db/client.ts';
import { openDatabase } from '../../src/db/client.ts';
import { rateLimitWindows } from '../../src/db/schema/index.ts';
import { takeSubmitSlot as takeSlot } from '../../src/db/sqlite/rate-limit.ts';
import { effectiveLimit, RateLimitedError } from '../../src/domain/rate-limit.ts';
import { tempDb } from '../helpers/db.ts';

/** The limiter on a real SQLite file, through two connections as two processes would use it. */

const W = 1_790_000_040_000; // a window start

/** The SQLite store's rateLimit.take without the async boundary, throwing as the submit flow does. */
function takeSubmitSlot(db: DB, tokenId: number, limit: number, now: number): void {
  const r = takeSlot(db, tokenId, limit, now);
  if (!r.allowed) throw new RateLimitedError(r.retryAfterSeconds);
}

function outcome(run: () => void): number | 'ok' {
  try {
    run();
    return 'ok';
  } catch (err) {
    if (err instanceof RateLimitedError) return err.retryAfterSeconds;
    throw err;
  }
}

describe('takeSubmitSlot', () => {
  const a = tempDb();
  const b = openDatabase(a.path);
  afterAll(() => {
    b.$client.close();
    a.cleanup();
  });

  test('two connections to one database share one limit', () => {
    const results = Array.from({ length: 12 }, (_, i) =>
      outcome(() => takeSubmitSlot(i % 2 ? b : a.db, 1, 5, W + 1000)),
    );
    expect(results.filter((r) => r === 'ok')).toHaveLength(5);
    // 1 s into the window: 59 s to wait.
    expect(results.filter((r) => r === 59)).toHaveLength(7);
  });

  test('the wait is rounded up and never below 1 s', () => {
    takeSubmitSlot(a.db, 2, 1, W);
    expect(outcome(() => takeSubmitSlot(a.db, 2, 1, W + 59_500))).toBe(1);
    expect(outcome(() => takeSubmitSlot(a.db, 2, 1, W + 58_999))).toBe(2);
  });

  test('no limit: nothing is written', () => {
    for (let i = 0; i < 3; i++) takeSubmitSlot(a.db, 3, 0, W);
    expect(
      a.db
        .select()
        .from(rateLimitWindows)
        .all()
        .filter((r) => r.tokenId === 3),
    ).toHaveLength(0);
  });

  test("effectiveLimit: the key's own limit, else the default", () => {
    expect(effectiveLimit(0, 0)).toBe(0);
    expect(effectiveLimit(0, 7)).toBe(7);
    expect(effectiveLimit(3, 7)).toBe(3);
  });
});

describe('config', () => {
  test('SUBMIT_FAILOVER and RELAY_RATE_LIMIT_PER_MINUTE: defaults, values, refusals', () => {
    const d = loadConfig({});
    expect([d.submitFailover, d.relayRateLimitPerMinute]).toEqual([2, 0]);
    const c = loadConfig({ SUBMIT_FAILOVER: '0', RELAY_RATE_LIMIT_PER_MINUTE: '30' });
    expect([c.submitFailover, c.relayRateLimitPerMinute]).toEqual([0, 30]);
    expect(() => loadConfig({ SUBMIT_FAILOVER: '-1' })).toThrow(/SUBMIT_FAILOVER/);
    expect(() => loadConfig({ RELAY_RATE_LIMIT_PER_MINUTE: 'lots' })).toThrow(/RELAY_RATE_LIMIT_PER_MINUTE/);
  });
});
