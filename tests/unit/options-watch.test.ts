import { afterEach, beforeEach, describe, expect, test } from 'bun:test';
import { eq } from 'drizzle-orm';
import { type DB, openDatabase } from '../../src/db/client.ts';
import { options } from '../../src/db/schema/index.ts';
import { createSqliteStore } from '../../src/db/sqlite/store.ts';
import { OptionsStore } from '../../src/domain/options.ts';
import { tempDb } from '../helpers/db.ts';
import { waitFor } from '../helpers/server.ts';

/** Two processes' worth of option stores: two connections to one SQLite file. */

let first: { db: DB; path: string; cleanup: () => void };
let secondDb: DB;
let a: OptionsStore;
let b: OptionsStore;

beforeEach(async () => {
  first = tempDb();
  secondDb = openDatabase(first.path);
  a = await OptionsStore.bootstrap(createSqliteStore(first.db).options);
  b = await OptionsStore.bootstrap(createSqliteStore(secondDb).options);
});
afterEach(() => {
  secondDb.$client.close();
  first.cleanup();
});

describe('options refresh', async () => {
  test('a change written through one store is picked up by the other on refresh, and only then', async () => {
    await b.refresh(); // first look: the baseline
    await a.set('mj_notify_enabled', true);
    expect(b.get('mj_notify_enabled')).toBe(false); // reads stay in memory between checks
    expect(await b.refresh()).toBe(true);
    expect(b.get('mj_notify_enabled')).toBe(true);
    expect(await b.refresh()).toBe(false);
  });

  test('a value set here and set back elsewhere is seen back here (the look includes our own writes)', async () => {
    await a.refresh();
    await b.refresh();
    await a.set('mj_forward_url_enabled', false);
    expect(await b.refresh()).toBe(true);
    await b.set('mj_forward_url_enabled', true);
    expect(await a.refresh()).toBe(true);
    expect(a.get('mj_forward_url_enabled')).toBe(true);
  });

  test('a direct SQL edit counts too, including a price change', async () => {
    await a.refresh();
    secondDb.$client.run(`UPDATE options SET value = '{"mj_imagine":0.2}' WHERE key = 'mj_prices'`);
    expect(await a.refresh()).toBe(true);
    expect(a.quotaFor('mj_imagine')).toBe(100_000);
  });

  test("watch() applies another connection's change by itself and stops when told", async () => {
    let changes = 0;
    const stop = b.watch({ intervalMs: 10, onChange: () => changes++ });
    try {
      await a.set('mj_mode_clear_enabled', true);
      await waitFor(() => b.get('mj_mode_clear_enabled'), 'b sees the change');
      expect(changes).toBe(1);
    } finally {
      stop();
    }
    first.db.update(options).set({ value: 'false' }).where(eq(options.key, 'mj_mode_clear_enabled')).run();
    // Stopped: nothing reloads any more until someone asks.
    expect(b.get('mj_mode_clear_enabled')).toBe(true);
    expect(await b.refresh()).toBe(true);
    expect(b.get('mj_mode_clear_enabled')).toBe(false);
  });
});
