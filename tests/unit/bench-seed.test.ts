import type { Database } from 'bun:sqlite';
import { afterAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkCounters, seedAccounts, seedTasksThroughTriggers, T0 } from '../../scripts/bench/seed.ts';
import { bulkSeed } from '../../scripts/bench/seed-bulk.ts';
import { openDatabase } from '../../src/db/client.ts';

/**
 * The bench's bulk seed (rows first, then the migrations backfill every rollup) must leave the
 * very file that row-by-row inserts through the triggers leave: same schema, same rows in every
 * table (counters, time buckets with their id bounds, id blocks, the AUTOINCREMENT sequence).
 */

const dir = mkdtempSync(join(tmpdir(), 'mj-bench-seed-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Spans several id blocks (1,024), minutes, hours and days, and unfinished and failed rows. */
const TOTAL = 5_000;

function dump(sqlite: Database): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  const objects = sqlite
    .query<{ type: string; name: string; sql: string | null }, []>(
      `SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_autoindex%' ORDER BY type, name`,
    )
    .all();
  out.schema = objects.map((o) => `${o.type} ${o.name}: ${o.sql ?? ''}`);
  for (const { name } of objects.filter((o) => o.type === 'table')) {
    out[name] = sqlite
      .query<Record<string, unknown>, []>(`SELECT * FROM "${name}"`)
      .all()
      .map((r) => JSON.stringify(r))
      .sort();
  }
  return out;
}

describe('bench bulk seed', () => {
  test('equals the seed through the triggers, table by table', () => {
    const slow = openDatabase(join(dir, 'triggers.db'));
    seedAccounts(slow.$client, T0);
    seedTasksThroughTriggers(slow.$client, TOTAL);
    const want = dump(slow.$client);
    slow.$client.close();

    const bulkPath = join(dir, 'bulk.db');
    bulkSeed(bulkPath, TOTAL);
    const fast = openDatabase(bulkPath);
    seedAccounts(fast.$client, T0);
    checkCounters(fast.$client, TOTAL);
    const got = dump(fast.$client);
    fast.$client.close();

    expect(Object.keys(got).sort()).toEqual(Object.keys(want).sort());
    expect(want.task_time_buckets?.length).toBeGreaterThan(1_000);
    expect(want.task_id_blocks?.length).toBeGreaterThan(10);
    for (const table of Object.keys(want)) expect({ table, rows: got[table] }).toEqual({ table, rows: want[table] });
  }, 60_000);
});
