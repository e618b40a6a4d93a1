import { describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSqliteStore } from '../../src/db/sqlite/store.ts';
import { AppError } from '../../src/domain/errors.ts';
import { MAX_PRICE_QUOTA, OptionsStore, QUOTA_PER_UNIT } from '../../src/domain/options.ts';
import { memoryDb } from '../helpers/db.ts';

/** The refusal of `fn`, which must be a BAD_REQUEST AppError. */
async function refusal(fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn();
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).kind).toBe('BAD_REQUEST');
    return (err as AppError).message;
  }
  throw new Error('expected a refusal');
}

describe('mj_prices values (SPEC §3, §7.4)', () => {
  const bad: [string, unknown, RegExp][] = [
    ['negative', -0.1, /price of mj_imagine is negative/],
    ['infinite (1e400 in JSON)', JSON.parse('1e400'), /price of mj_imagine is not a finite number/],
    ['not a number', '0.1', /price of mj_imagine is not a finite number/],
    ['above the ceiling', MAX_PRICE_QUOTA / QUOTA_PER_UNIT + 1, /price of mj_imagine is above the ceiling/],
    ['rounds to a free call', 0.0000009, /price of mj_imagine is below one quota unit/],
    ['not a whole number of quota units', 0.1234567, /price of mj_imagine is 61728\.35 quota, not a whole number/],
  ];
  for (const [what, price, message] of bad) {
    test(`refused with BAD_REQUEST naming the model: ${what}`, async () => {
      const store = await OptionsStore.bootstrap(createSqliteStore(memoryDb()).options);
      expect(await refusal(() => store.set('mj_prices', { mj_imagine: price }))).toMatch(message);
      expect(store.quotaFor('mj_imagine')).toBe(50_000);
    });
  }

  test('the model named is the bad one among good ones', async () => {
    const store = await OptionsStore.bootstrap(createSqliteStore(memoryDb()).options);
    expect(await refusal(() => store.set('mj_prices', { mj_imagine: 0.1, mj_video: -1 }))).toContain('mj_video');
  });

  test('accepted: zero, the ceiling, one quota unit, float noise of ordinary prices', async () => {
    const store = await OptionsStore.bootstrap(createSqliteStore(memoryDb()).options);
    await store.set('mj_prices', {
      mj_inpaint: 0,
      mj_imagine: MAX_PRICE_QUOTA / QUOTA_PER_UNIT,
      mj_describe: 1 / QUOTA_PER_UNIT,
      mj_zoom: 0.07,
      mj_pan: 1.1,
    });
    expect(store.quotaFor('mj_inpaint')).toBe(0);
    expect(store.quotaFor('mj_imagine')).toBe(MAX_PRICE_QUOTA);
    expect(store.quotaFor('mj_describe')).toBe(1);
    expect(store.quotaFor('mj_zoom')).toBe(35_000);
    expect(store.quotaFor('mj_pan')).toBe(550_000);
  });

  test('the environment override is checked at first start', async () => {
    await expect(
      OptionsStore.bootstrap(createSqliteStore(memoryDb()).options, { mj_prices: '{"mj_imagine":1e400}' }),
    ).rejects.toThrow(/price of mj_imagine is not a finite number/);
    await expect(
      OptionsStore.bootstrap(createSqliteStore(memoryDb()).options, { mj_prices: '{"mj_video":0.0000001}' }),
    ).rejects.toThrow(/price of mj_video is below one quota unit/);
    const ok = await OptionsStore.bootstrap(createSqliteStore(memoryDb()).options, { mj_prices: '{"mj_imagine":0.2}' });
    expect(ok.quotaFor('mj_imagine')).toBe(100_000);
  });

  test('an invalid MJ_PRICES stops start-up with one line and exit code 2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mjgw-prices-'));
    try {
      const proc = Bun.spawn(['bun', 'src/index.ts'], {
        env: {
          PATH: process.env.PATH ?? '',
          PORT: '0',
          HOST: '127.0.0.1',
          DATABASE_PATH: join(dir, 'gw.db'),
          UPDATE_TASK: 'false',
          MJ_PRICES: '{"mj_imagine":-1}',
        },
        stdout: 'pipe',
        stderr: 'pipe',
      });
      const [code, stderr] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
      expect(code).toBe(2);
      expect(stderr.trim().split('\n')).toEqual([
        'invalid configuration: invalid value for option mj_prices: price of mj_imagine is negative',
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
