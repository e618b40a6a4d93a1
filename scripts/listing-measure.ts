/**
 * In-process listing measure (issue 8): seeds `.tmp/listing-<n>.db` once with prepared
 * bun:sqlite inserts in big transactions (through the real migrations and triggers), then times
 * `listTasks` for each shape and prints ratios against page 1. Absolute times are context only.
 *   bun scripts/listing-measure.ts [rows=1000000] [small=10000] [ordered]
 * Without `ordered`, 1% of the rows get a submit_time far from their id's (the worst case for
 * the id window of a narrow range); with it, submit_time grows with id like appended traffic.
 */
import { existsSync } from 'node:fs';
import { type DB, openDatabase } from '../src/db/client.ts';
import { listTasks } from '../src/db/sqlite/listing.ts';
import type { TaskFilter } from '../src/domain/tasks.ts';

const ROWS = Number(process.argv[2] ?? 1_000_000);
const SMALL = Number(process.argv[3] ?? 10_000);
const ORDERED = process.argv[4] === 'ordered';
const BASE = 1_712_016_000_000;
const STEP = 2_600; // ms between submits: 1M rows span about a month

function open(rows: number): DB {
  const path = `${import.meta.dir}/../.tmp/listing-${rows}${ORDERED ? '-ordered' : ''}.db`;
  const fresh = !existsSync(path);
  const db = openDatabase(path);
  if (!fresh) return db;
  const t0 = performance.now();
  const insert = db.$client.prepare(
    'INSERT INTO tasks (user_id, channel_id, mj_id, submit_time, progress, prompt, image_url) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)',
  );
  const batch = db.$client.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) {
      // User 1 owns half the rows; 1% are written out of time order.
      const user = i % 2 === 0 ? 1 : 2 + (i % 97);
      const time = !ORDERED && i % 100 === 7 ? BASE + ((i * 7919) % rows) * STEP : BASE + i * STEP;
      insert.run(
        user,
        i % 4,
        String(1_700_000_000_000_000 + i),
        time,
        i % 10 === 0 ? '0%' : '100%',
        `prompt ${i}`,
        `https://cdn.example.com/${i}.png`,
      );
    }
  });
  for (let i = 0; i < rows; i += 50_000) batch(i, Math.min(rows, i + 50_000));
  db.$client.run('ANALYZE');
  console.log(`seeded ${rows} rows in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return db;
}

/** Median over rounds of the mean of a batch: the box is shared, so single runs are noisy. */
function time(db: DB, f: TaskFilter, p: number, rounds = 15, batch = 20): number {
  for (let i = 0; i < 10; i++) listTasks(db, f, { p });
  const samples: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    for (let i = 0; i < batch; i++) listTasks(db, f, { p });
    samples.push((performance.now() - t0) / batch);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(rounds / 2)]!;
}

const big = open(ROWS);
const small = open(SMALL);
const mid = (rows: number) => BASE + Math.floor(rows / 2) * STEP;
const shapes: Array<[string, (rows: number) => TaskFilter, number]> = [
  ['admin', () => ({}), 1],
  ['user', () => ({ userId: 1 }), 1],
  ['admin + channel', () => ({ channelId: 2 }), 1],
  ['user end=<middle>', (r) => ({ userId: 1, end: mid(r) }), 1],
  ['user start=<middle>', (r) => ({ userId: 1, start: mid(r) }), 1],
  ['admin start=<middle>', (r) => ({ start: mid(r) }), 1],
  ['admin end=<middle>', (r) => ({ end: mid(r) }), 1],
  ['admin range 1 day', (r) => ({ start: mid(r), end: mid(r) + 86_400_000 }), 1],
  ['admin range all', () => ({ start: 0, end: BASE * 2 }), 1],
  ['admin + channel + range', (r) => ({ channelId: 2, start: mid(r) - 3 * 86_400_000, end: mid(r) }), 1],
  ['user + mj_id', (r) => ({ userId: 1, mjId: String(1_700_000_000_000_000 + r - 2) }), 1],
  ['admin p=2000', () => ({}), 2000],
  ['admin p=20000', () => ({}), 20000],
  ['user p=500', () => ({ userId: 1 }), 500],
  ['user p=20000', () => ({ userId: 1 }), 20000],
];
/**
 * Ratio of a shape to a reference, paired per round (each round times both back to back) so the
 * load of a shared box cancels out; the median of the rounds is printed.
 */
function ratio(db: DB, f: TaskFilter, p: number, ref: TaskFilter, rounds = 21): { ms: number; ratio: number } {
  const ratios: number[] = [];
  const times: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const a = time(db, f, p, 1, 20);
    const b = time(db, ref, 1, 1, 20);
    ratios.push(a / b);
    times.push(a);
  }
  const mid = (xs: number[]) => xs.sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
  return { ms: mid(times), ratio: mid(ratios) };
}

console.log(`rows ${ROWS} vs ${SMALL}${ORDERED ? ' (submit_time in id order)' : ' (1% of rows out of time order)'}`);
console.log('shape | ms at big | big / same shape at small | big / page 1 of its scope at big');
for (const [name, make, p] of shapes) {
  const ref: TaskFilter = name.startsWith('user') ? { userId: 1 } : {};
  const vsPage1 = ratio(big, make(ROWS), p, ref);
  // Same shape on the small file, paired with the same reference query on the big file.
  const smallP = Math.min(p, Math.max(1, Math.floor(SMALL / 40)));
  const atSmall = ratio(small, make(SMALL), smallP, ref);
  const vsSmall = vsPage1.ratio / atSmall.ratio;
  console.log(`${name} | ${vsPage1.ms.toFixed(3)} | ${vsSmall.toFixed(2)} | ${vsPage1.ratio.toFixed(2)}`);
}
