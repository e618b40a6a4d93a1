import { describe, expect, test } from 'bun:test';
import { AppError } from '../../src/domain/errors.ts';
import { UserByteRate } from '../../src/domain/user-limits.ts';

/**
 * SPEC §10, one user cannot slow the others: the bytes of answers one user draws are a debt repaid
 * at answerBytesPerSecond past a burst, so back-to-back 8 MiB answers cannot keep the main thread serialising
 * for one user. A dashboard's small pages never wait.
 */
const MiB = 1024 * 1024;

function rateAt(clock: { t: number }, perSecond = 8 * MiB, waitMs = 5_000, burst = perSecond, free = 0) {
  return new UserByteRate(
    { answerBytesPerSecond: perSecond, answerBurstBytes: burst, answerFreeBytes: free, listingWaitMs: waitMs },
    () => clock.t,
  );
}

describe('answer bytes per user per second', () => {
  test('small answers never wait; a debt past one second is repaid over time, per user', async () => {
    const clock = { t: 0 };
    const rate = rateAt(clock);
    for (let i = 0; i < 100; i++) {
      await rate.ready(1);
      rate.charge(1, 50_000);
    }
    expect(rate.debt(1)).toBe(5_000_000);
    rate.charge(1, 8 * MiB);
    // 8 MiB + 5 MB owed: past the burst by 5 MB; another user is not affected.
    expect(rate.debt(1) - 8 * MiB).toBe(5_000_000);
    await rate.ready(2);
    clock.t += 500;
    expect(rate.debt(1)).toBe(8 * MiB + 5_000_000 - 4 * MiB);
    clock.t += 10_000;
    expect(rate.debt(1)).toBe(0);
    expect(rate.size).toBe(0);
  });

  test('a user whose debt is within the wait waits for it; one past the wait waits it out, then gets 429', async () => {
    const clock = { t: performance.now() };
    const rate = new UserByteRate({
      answerBytesPerSecond: 1_000_000,
      answerBurstBytes: 1_000_000,
      answerFreeBytes: 0,
      listingWaitMs: 5_000,
    });
    rate.charge(7, 1_050_000);
    const t0 = performance.now();
    await rate.ready(7);
    // Waited for the 50,000 bytes past the burst: 50 ms at 1 MB/s.
    expect(performance.now() - t0).toBeGreaterThanOrEqual(45);
    const far = rateAt(clock, 1_000_000, 60);
    far.charge(7, 7_000_000);
    const t1 = performance.now();
    const refused = await far.ready(7).then(
      () => null,
      (e: unknown) => e,
    );
    expect(performance.now() - t1).toBeGreaterThanOrEqual(55);
    expect(refused).toBeInstanceOf(AppError);
    expect((refused as AppError).kind).toBe('RATE_LIMITED');
    expect((refused as AppError).message).toBe('too_many_requests');
  });

  test('ordinary pages are never metered, however many: only what an answer carries past the free bytes counts', async () => {
    const clock = { t: 0 };
    const rate = rateAt(clock, 1, 5_000, 1, 256 * 1024);
    for (let i = 0; i < 10_000; i++) rate.charge(1, 256 * 1024);
    expect(rate.debt(1)).toBe(0);
    await rate.ready(1);
    rate.charge(1, 256 * 1024 + 10);
    expect(rate.debt(1)).toBe(10);
  });
});
