import { describe, expect, test } from 'bun:test';
import { desc } from 'drizzle-orm';
import type { DB } from '../../src/db/client.ts';
import { tasks } from '../../src/db/schema/index.ts';
import { listTasks, timeRangeRead } from '../../src/db/sqlite/listing.ts';
import { BUCKET_SLOTS, coverOf, DAY, EXACT_SLOTS, HOUR, MINUTE } from '../../src/db/sqlite/task-windows.ts';
import type { TaskFilter } from '../../src/domain/tasks.ts';
import { memoryDb } from '../helpers/db.ts';

/**
 * The listing answers exactly what a naive `SELECT ... ORDER BY id DESC LIMIT/OFFSET` and
 * `COUNT(*)` answer, for every filter shape, on a table where ids and submit times disagree:
 * rows inserted with explicit ids out of order, then moved, re-timed and deleted with plain SQL.
 */

function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const BASE = 1_712_016_000_000; // a UTC midnight
const rand = mulberry32(20261201);
const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
const pick = <T>(xs: readonly T[]): T => xs[int(0, xs.length - 1)]!;

function randomTime(): number {
  const r = rand();
  if (r < 0.02) return -int(1, 5 * HOUR); // negative times all share bucket -1
  if (r < 0.1) return BASE + int(-3, 8) * HOUR + pick([0, 1, -1, HOUR - 1]); // on bucket edges
  return BASE + int(-2 * DAY, 6 * DAY);
}

const STATUSES = ['', 'NOT_START', 'SUBMITTED', 'IN_PROGRESS', 'FAILURE', 'SUCCESS', 'SUCCESS', 'SUCCESS'];
const ACTIONS = ['IMAGINE', 'IMAGINE', 'UPSCALE', 'VARIATION', 'SWAP_FACE'];

function seed(db: DB, rows: number) {
  const insert = db.$client.prepare(
    'INSERT INTO tasks (id, user_id, channel_id, mj_id, submit_time, status, action) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)',
  );
  const ids = new Set<number>();
  db.$client.transaction(() => {
    // Mostly appended (time grows with id) like real traffic, with a share written out of order.
    let t = BASE - 2 * DAY;
    for (let i = 0; i < rows; i++) {
      let id = int(-40, 30_000);
      while (ids.has(id) || id === 0) id = int(-40, 30_000);
      ids.add(id);
      t += int(0, 200_000);
      const time = rand() < 0.7 ? t : randomTime();
      insert.run(id, int(1, 3), int(0, 3), `mj${int(0, 40)}`, time, pick(STATUSES), pick(ACTIONS));
    }
  })();
  return [...ids];
}

function churn(db: DB, ids: number[]) {
  const c = db.$client;
  for (let i = 0; i < 300; i++) {
    const id = pick(ids);
    const what = rand();
    if (what < 0.2) c.run('UPDATE tasks SET submit_time = ?1 WHERE id = ?2', [randomTime(), id]);
    else if (what < 0.3)
      c.run('UPDATE tasks SET status = ?1, action = ?2 WHERE id = ?3', [pick(STATUSES), pick(ACTIONS), id]);
    else if (what < 0.45) c.run('UPDATE tasks SET user_id = ?1 WHERE id = ?2', [int(1, 3), id]);
    else if (what < 0.6)
      c.run('UPDATE tasks SET channel_id = ?1, submit_time = ?2 WHERE id = ?3', [int(0, 3), randomTime(), id]);
    else if (what < 0.7)
      c.run('UPDATE tasks SET id = ?1 WHERE id = ?2 AND NOT EXISTS (SELECT 1 FROM tasks WHERE id = ?1)', [
        int(30_001, 40_000),
        id,
      ]);
    else c.run('DELETE FROM tasks WHERE id = ?1', [id]);
  }
  c.run('UPDATE tasks SET submit_time = submit_time + 7 * 3600000 WHERE user_id = 2 AND id % 5 = 0');
  c.run('DELETE FROM tasks WHERE channel_id = 3 AND id % 7 = 0');
  c.run("UPDATE tasks SET status = 'SUCCESS' WHERE status = 'IN_PROGRESS' AND id % 3 = 0");
  // REPLACE deletes the old row and inserts a new one under the same id.
  for (let i = 0; i < 50; i++) {
    c.run('INSERT OR REPLACE INTO tasks (id, user_id, channel_id, submit_time) VALUES (?1, ?2, ?3, ?4)', [
      pick(ids),
      int(1, 3),
      int(0, 3),
      randomTime(),
    ]);
  }
}

function naive(db: DB, f: TaskFilter, limit: number, offset: number): { ids: number[]; total: number } {
  const terms: string[] = [];
  const args: Array<number | string> = [];
  if (f.userId !== undefined) {
    terms.push('user_id = ?');
    args.push(f.userId);
  }
  if (f.channelId !== undefined) {
    terms.push('channel_id = ?');
    args.push(f.channelId);
  }
  if (f.mjId !== undefined) {
    terms.push('mj_id = ?');
    args.push(f.mjId);
  }
  if (f.start !== undefined) {
    terms.push('submit_time >= ?');
    args.push(f.start);
  }
  if (f.end !== undefined) {
    terms.push('submit_time <= ?');
    args.push(f.end);
  }
  if (f.status !== undefined) {
    terms.push('status = ?');
    args.push(f.status);
  }
  if (f.action !== undefined) {
    terms.push('action = ?');
    args.push(f.action);
  }
  const where = terms.length ? `WHERE ${terms.join(' AND ')}` : '';
  const ids = (
    db.$client
      .query(`SELECT id FROM tasks ${where} ORDER BY id DESC LIMIT ? OFFSET ?`)
      .all(...args, limit, offset) as Array<{ id: number }>
  ).map((r) => r.id);
  const total = (db.$client.query(`SELECT count(*) AS n FROM tasks ${where}`).get(...args) as { n: number }).n;
  return { ids, total };
}

function randomBound(): number {
  const r = rand();
  if (r < 0.4) return BASE + int(-3 * DAY, 7 * DAY);
  const edge = BASE + int(-3, 7) * pick([HOUR, DAY]);
  return Math.max(0, edge + pick([0, 1, -1]));
}

function randomFilter(): TaskFilter {
  const f: TaskFilter = {};
  const scope = int(0, 2);
  if (scope === 1) f.userId = int(1, 4);
  if (scope === 2) f.channelId = int(0, 4);
  if (rand() < 0.15) f.mjId = `mj${int(0, 40)}`;
  const range = int(0, 3);
  if (range === 1 || range === 3) f.start = randomBound();
  if (range === 2 || range === 3) f.end = randomBound();
  if (f.start !== undefined && f.end !== undefined && f.start > f.end) [f.start, f.end] = [f.end, f.start];
  if (rand() < 0.35) f.status = pick([...STATUSES, 'MODAL']);
  if (rand() < 0.35) f.action = pick([...ACTIONS, 'BLEND']);
  return f;
}

function check(db: DB, cases: number, strategy?: 'window' | 'scan') {
  for (let i = 0; i < cases; i++) {
    const f = randomFilter();
    const pageSize = pick([1, 7, 20, 100]);
    const ref0 = naive(db, f, 1, 0);
    // Pages near the start, deep inside (past the id-block threshold), at the end, past the end.
    const last = Math.max(1, Math.ceil(ref0.total / pageSize));
    const p = pick([1, 2, int(1, last), last, last + 1, Math.max(1, Math.floor(2100 / pageSize) + int(0, 30))]);
    const got = listTasks(db, f, { p, page_size: pageSize }, strategy);
    const ref = naive(db, f, pageSize, (p - 1) * pageSize);
    const label = JSON.stringify({ f, p, pageSize });
    expect({ label, total: got.total, ids: got.items.map((r) => r.id) }).toEqual({
      label,
      total: ref.total,
      ids: ref.ids,
    });
  }
}

/** Buckets and blocks recomputed from scratch must match the trigger-kept ones (bounds may be wider). */
function checkCounters(db: DB) {
  const c = db.$client;
  const scopes = [
    ["'all'", '0'],
    ["'user'", 'user_id'],
    ["'channel'", 'channel_id'],
  ];
  for (const [scope, col] of scopes) {
    for (const span of [MINUTE, HOUR, DAY]) {
      const fresh = c
        .query(`SELECT ${col} AS sid, CASE WHEN submit_time >= 0 THEN submit_time / ${span} ELSE -1 END AS b,
        count(*) AS n, min(id) AS lo, max(id) AS hi FROM tasks GROUP BY sid, b ORDER BY sid, b`)
        .all() as Array<{ sid: number; b: number; n: number; lo: number; hi: number }>;
      const kept = c
        .query(`SELECT scope_id AS sid, bucket AS b, count AS n, min_id AS lo, max_id AS hi FROM task_time_buckets
        WHERE scope = ${scope} AND span = ${span} AND count <> 0 ORDER BY sid, b`)
        .all() as typeof fresh;
      expect(kept.map(({ sid, b, n }) => [sid, b, n])).toEqual(fresh.map(({ sid, b, n }) => [sid, b, n]));
      kept.forEach((k, i) => {
        expect(k.lo <= fresh[i]!.lo && k.hi >= fresh[i]!.hi).toBe(true);
      });
    }
    const freshCount = c.query(`SELECT ${col} AS sid, count(*) AS n FROM tasks GROUP BY sid ORDER BY sid`).all();
    const keptCount = c
      .query(`SELECT scope_id AS sid, count AS n FROM task_counters WHERE scope = ${scope} AND count <> 0 ORDER BY sid`)
      .all();
    expect(keptCount).toEqual(freshCount);
    const freshBlocks = c
      .query(`SELECT ${col} AS sid, id / 1024 AS b, count(*) AS n FROM tasks GROUP BY sid, b ORDER BY sid, b`)
      .all();
    const keptBlocks = c
      .query(
        `SELECT scope_id AS sid, block AS b, count AS n FROM task_id_blocks WHERE scope = ${scope} AND count <> 0 ORDER BY sid, b`,
      )
      .all();
    expect(keptBlocks).toEqual(freshBlocks);
    const owner = scope!.replaceAll("'", '');
    const freshFilter = c
      .query(`SELECT ${col} AS sid, status, action, count(*) AS n FROM tasks GROUP BY sid, status, action
        ORDER BY sid, status, action`)
      .all();
    const keptFilter = c
      .query(`SELECT owner_id AS sid, status, action, count AS n FROM task_filter_counts
        WHERE owner = '${owner}' AND count <> 0 ORDER BY sid, status, action`)
      .all();
    expect(keptFilter).toEqual(freshFilter);
  }
}

describe('listing equals the naive reference query', () => {
  const db = memoryDb();
  const ids = seed(db, 6000);

  test('on rows inserted out of order', () => {
    // Rows come back whole, exactly as Drizzle reads them.
    db.$client.run(
      "UPDATE tasks SET prompt = 'p' || id, image_url = 'u' || id, buttons = '[]', quota = abs(id % 9), updated_time = id WHERE id % 3 = 0",
    );
    const page = listTasks(db, {}, { page_size: 100 });
    expect(page.items).toEqual(db.select().from(tasks).orderBy(desc(tasks.id)).limit(100).all());
    checkCounters(db);
    check(db, 150);
  });

  test('after updates of user, channel, submit_time and id, and deletes', () => {
    churn(db, ids);
    checkCounters(db);
    check(db, 150);
    // Both ways of reading a time range, whichever the cost rule would pick.
    check(db, 80, 'window');
    check(db, 80, 'scan');
  });

  test('buckets and blocks backfilled by the migrations match (rows written before them)', async () => {
    // A table that already had rows when migration 0007 ran: replay its backfills.
    const other = memoryDb();
    seed(other, 500);
    other.$client.run('DELETE FROM task_time_buckets');
    other.$client.run('DELETE FROM task_id_blocks');
    const files = ['0007_task_bucket_triggers.sql'];
    const texts = await Promise.all(files.map((f) => Bun.file(`${import.meta.dir}/../../drizzle/${f}`).text()));
    for (const text of texts) {
      for (const stmt of text.split('--> statement-breakpoint')) {
        if (stmt.includes('INSERT INTO task_') && !stmt.includes('CREATE TRIGGER')) other.$client.run(stmt);
      }
    }
    checkCounters(other);
    check(other, 100);
  });
});

describe('mostly ordered data (ids appended, submit times jittered a little, like the bench seed)', () => {
  // Times 30 s apart on average with up to ±60 s of disorder against id order.
  const db = memoryDb();
  const insert = db.$client.prepare(
    'INSERT INTO tasks (user_id, channel_id, mj_id, submit_time) VALUES (?1, ?2, ?3, ?4)',
  );
  db.$client.transaction(() => {
    for (let i = 0; i < 5000; i++)
      insert.run(i % 2 === 0 ? 2 : int(3, 4), int(1, 4), `mj${i}`, BASE + i * 30_000 + int(-60_000, 60_000));
  })();
  const span = 5000 * 30_000;

  test('answers equal the naive reference', () => {
    checkCounters(db);
    check(db, 150);
    check(db, 60, 'window');
    check(db, 60, 'scan');
  });

  test('a range holding more than a page is read through its id window, not the time-index scan', () => {
    for (let i = 0; i < 200; i++) {
      const start = BASE + int(0, span);
      const end = start + pick([40 * MINUTE, HOUR, HOUR + int(0, MINUTE), DAY, int(20 * MINUTE, span)]);
      const f: TaskFilter = pick([{}, { userId: 2 }, { userId: 3 }, { channelId: 2 }]);
      const read = timeRangeRead(db, { ...f, start, end });
      if (read === null || read.total < 20) continue;
      expect({ f, start, end, strategy: read.strategy }).toEqual({ f, start, end, strategy: 'window' });
    }
  });
});

describe('coverOf splits a range into whole days, hours and minutes and exact edges', () => {
  test('every millisecond of the range is in exactly one piece', () => {
    for (let i = 0; i < 300; i++) {
      const a = int(0, 5 * DAY) + BASE;
      const b = a + pick([0, 1, MINUTE - 1, MINUTE, HOUR - 1, HOUR, DAY, int(0, 4 * DAY)]);
      const c = coverOf(a, b);
      const pieces: Array<[number, number]> = [
        ...c.exact,
        ...c.buckets.map(({ span, from, to }): [number, number] => [from * span, (to + 1) * span - 1]),
      ].sort((p, q) => p[0] - q[0]);
      expect(pieces[0]![0]).toBe(a);
      expect(pieces.at(-1)![1]).toBe(b);
      for (let k = 1; k < pieces.length; k++) expect(pieces[k]![0]).toBe(pieces[k - 1]![1] + 1);
      // Counted row by row, so an exact piece never spans more than two partial minutes.
      for (const [x, y] of c.exact) expect(y - x).toBeLessThan(2 * MINUTE);
      expect(c.exact.length).toBeLessThanOrEqual(EXACT_SLOTS);
      expect(c.buckets.length).toBeLessThanOrEqual(BUCKET_SLOTS);
      expect(c.buckets.filter((p) => p.span === HOUR).every((p) => p.to - p.from < 48)).toBe(true);
      expect(c.buckets.filter((p) => p.span === MINUTE).every((p) => p.to - p.from < 120)).toBe(true);
    }
  });
});
