/**
 * Ad-hoc measure (not a test): PostgreSQL listing page-1 time at 1M rows vs 10k rows for each
 * filter shape, and deep pages / time ranges vs page 1, as ratios of medians. Run with a server:
 *   TEST_DATABASE_URL=postgres://... bun tests/perf/pg-listing-measure.ts [bigRows] [smallUrl bigUrl]
 * With two database URLs it reuses databases seeded by an earlier run (which prints them and
 * keeps them when given `keep` as the second argument).
 */

import { openPgDatabase } from '../../src/db/pg/client.ts';
import { listTasksPg, type TaskFilter } from '../../src/db/pg/listing.ts';
import { DAY, HOUR } from '../../src/db/pg/task-windows.ts';
import { type TempPg, tempPg } from '../helpers/pg.ts';

const BASE = 1_712_016_000_000;
const STEP = 30_000; // one task every 30 s
const USERS = 100;
const BIG = Number(process.argv[2] ?? 1_000_000);

async function seeded(rows: number): Promise<TempPg> {
  const t = await tempPg();
  const sql = t.db.$client;
  const t0 = performance.now();
  for (let from = 1; from <= rows; from += 100_000) {
    const to = Math.min(rows, from + 99_999);
    await sql`INSERT INTO tasks (user_id, channel_id, mj_id, submit_time, prompt, progress, status)
      SELECT 1 + g % ${USERS}, g % 8, 'mj' || g, ${BASE}::bigint + g::bigint * ${STEP}, 'a prompt of some length ' || g, '100%', 'SUCCESS'
      FROM generate_series(${from}::int, ${to}::int) g`;
  }
  await sql`VACUUM ANALYZE`;
  console.error(`seeded ${rows} rows in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return t;
}

async function warm(t: TempPg, f: TaskFilter, p: number) {
  for (let i = 0; i < 12; i++) await listTasksPg(t.db, f, { p }); // past the custom-plan phase
}

const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Medians of two listings run alternately, so load from elsewhere falls on both alike. */
async function paired(
  a: [TempPg, TaskFilter, number],
  b: [TempPg, TaskFilter, number],
  n = 101,
): Promise<[number, number]> {
  await warm(...a);
  await warm(...b);
  const ta: number[] = [];
  const tb: number[] = [];
  for (let i = 0; i < n; i++) {
    for (const [[t, f, p], out] of [
      [a, ta],
      [b, tb],
    ] as const) {
      const t0 = performance.now();
      await listTasksPg(t.db, f, { p });
      out.push(performance.now() - t0);
    }
  }
  return [med(ta), med(tb)];
}

async function reuse(url: string): Promise<TempPg> {
  const db = await openPgDatabase(url, { poolSize: 4 });
  return { url, db, cleanup: () => db.$client.end() };
}
const [, , , smallUrl, bigUrl] = process.argv;
const keep = process.argv[3] === 'keep';
const small = smallUrl && bigUrl ? await reuse(smallUrl) : await seeded(10_000);
const big = smallUrl && bigUrl ? await reuse(bigUrl) : await seeded(BIG);
console.error(`databases: ${small.url} ${big.url}`);
const midOf = (rows: number) => BASE + Math.floor(rows / 2) * STEP;
const shapes: Array<[string, (rows: number) => TaskFilter]> = [
  ['user', () => ({ userId: 7 })],
  ['user+mj_id', (r) => ({ userId: 7, mjId: `mj${Math.floor(r / 2 / USERS) * USERS + 6}` })],
  ['user+range 1d', (r) => ({ userId: 7, start: midOf(r) - DAY / 2 + 7, end: midOf(r) + DAY / 2 - 3 })],
  ['user+start', (r) => ({ userId: 7, start: midOf(r) + 11 })],
  ['user+end', (r) => ({ userId: 7, end: midOf(r) - 13 })],
  ['admin', () => ({})],
  ['admin+channel', () => ({ channelId: 3 })],
  ['admin+mj_id', (r) => ({ mjId: `mj${Math.floor(r / 2)}` })],
  ['admin+range 1h', (r) => ({ start: midOf(r) + 5, end: midOf(r) + HOUR + 5 })],
  ['admin+range 1d', (r) => ({ start: midOf(r) - DAY / 2 + 7, end: midOf(r) + DAY / 2 - 3 })],
  ['admin+channel+range 1d', (r) => ({ channelId: 3, start: midOf(r) - DAY / 2 + 7, end: midOf(r) + DAY / 2 - 3 })],
  ['admin+range all', (r) => ({ start: BASE + 1, end: BASE + (r + 1) * STEP - 1 })],
];
console.log('shape | 10k ms | 1M ms | ratio (goal ≤ 1.5)');
for (const [name, f] of shapes) {
  const [a, b] = await paired([small, f(10_000), 1], [big, f(BIG), 1]);
  const totals = [(await listTasksPg(small.db, f(10_000), {})).total, (await listTasksPg(big.db, f(BIG), {})).total];
  console.log(`${name} | ${a.toFixed(3)} | ${b.toFixed(3)} | ${(b / a).toFixed(2)} | totals ${totals.join(' / ')}`);
}
console.log('\nat 1M rows | page ms | page 1 ms | ratio');
const mid = midOf(BIG);
const deep: Array<[string, TaskFilter, number, TaskFilter, number]> = [
  ['admin p=2000 vs admin p=1', {}, 2000, {}, 5],
  ['user p=500 vs user p=1', { userId: 7 }, 500, { userId: 7 }, 5],
  ['channel p=2000 vs channel p=1', { channelId: 3 }, 2000, { channelId: 3 }, 5],
  ['admin range 1h vs admin p=1', { start: mid + 5, end: mid + HOUR + 5 }, 1, {}, 2],
  ['admin range 30d vs admin p=1', { start: mid - 15 * DAY + 7, end: mid + 15 * DAY - 3 }, 1, {}, 2],
  ['admin range all vs admin p=1', { start: BASE + 1, end: BASE + (BIG + 1) * STEP - 1 }, 1, {}, 2],
  ['admin range 30d p=200 vs admin p=1', { start: mid - 15 * DAY + 7, end: mid + 15 * DAY - 3 }, 200, {}, 5],
  ['user range 1d vs user p=1', { userId: 7, start: mid - DAY / 2 + 7, end: mid + DAY / 2 - 3 }, 1, { userId: 7 }, 2],
  [
    'user range 30d vs user p=1',
    { userId: 7, start: mid - 15 * DAY + 7, end: mid + 15 * DAY - 3 },
    1,
    { userId: 7 },
    2,
  ],
  ['user range all vs user p=1', { userId: 7, start: BASE + 1, end: BASE + (BIG + 1) * STEP - 1 }, 1, { userId: 7 }, 2],
  [
    'channel range 30d vs channel p=1',
    { channelId: 3, start: mid - 15 * DAY + 7, end: mid + 15 * DAY - 3 },
    1,
    { channelId: 3 },
    2,
  ],
];
for (const [name, f, p, ref, goal] of deep) {
  const [ms, base] = await paired([big, f, p], [big, ref, 1]);
  console.log(`${name} | ${ms.toFixed(3)} | ${base.toFixed(3)} | ${(ms / base).toFixed(2)} (goal ≤ ${goal})`);
}
if (keep) {
  await small.db.$client.end();
  await big.db.$client.end();
  process.exit(0);
}
await small.cleanup();
await big.cleanup();
