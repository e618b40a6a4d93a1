import { afterAll, describe, expect, test } from 'bun:test';
import type { Sql } from 'postgres';
import { listTasksPg, type TaskFilter } from '../../src/db/pg/listing.ts';
import { coverOf, DAY, HOUR, SPANS } from '../../src/db/pg/task-windows.ts';
import { type TempPg, tempPg } from '../helpers/pg.ts';

/**
 * The PostgreSQL listing answers exactly what a naive `ORDER BY id DESC LIMIT/OFFSET` and
 * `COUNT(*)` answer, for every filter shape, on a table where ids and submit times disagree:
 * rows inserted with explicit ids out of order, then moved, re-timed and deleted with plain SQL
 * from concurrent sessions. (Plans at 100k rows: pg-listing-plans.test.ts.)
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
  if (r < 0.2) return BASE + int(-60 * DAY, 60 * DAY); // far enough for many whole day buckets
  return BASE + int(-2 * DAY, 6 * DAY);
}

const STATUSES = ['', 'NOT_START', 'SUBMITTED', 'IN_PROGRESS', 'FAILURE', 'SUCCESS', 'SUCCESS', 'SUCCESS'];
const ACTIONS = ['IMAGINE', 'IMAGINE', 'UPSCALE', 'VARIATION', 'SWAP_FACE'];

async function seed(sql: Sql, rows: number): Promise<number[]> {
  const ids = new Set<number>();
  const all: Array<{
    id: number;
    user_id: number;
    channel_id: number;
    mj_id: string;
    submit_time: number;
    status: string;
    action: string;
  }> = [];
  // Mostly appended (time grows with id) like real traffic, with a share written out of order.
  let t = BASE - 2 * DAY;
  for (let i = 0; i < rows; i++) {
    // Ids span many 1024-id blocks, negative ones included.
    const nextId = () =>
      rand() < 0.05 ? int(60_000, 200_000) : rand() < 0.01 ? int(-70_000, -66_000) : int(-40, 6_000);
    let id = nextId();
    while (ids.has(id) || id === 0) id = nextId();
    ids.add(id);
    t += int(0, 200_000);
    all.push({
      id,
      user_id: rand() < 0.6 ? 1 : int(2, 3),
      channel_id: int(0, 3),
      mj_id: `mj${int(0, 40)}`,
      submit_time: rand() < 0.7 ? t : randomTime(),
      status: pick(STATUSES),
      action: pick(ACTIONS),
    });
  }
  // Several statements of different sizes, from concurrent sessions.
  const chunks: Array<typeof all> = [];
  for (let i = 0; i < all.length; ) {
    const n = pick([1, 10, 200, 700]);
    chunks.push(all.slice(i, i + n));
    i += n;
  }
  await Promise.all(
    chunks.map(
      (c) =>
        sql`INSERT INTO tasks ${sql(c, 'id', 'user_id', 'channel_id', 'mj_id', 'submit_time', 'status', 'action')}`,
    ),
  );
  return [...ids];
}

async function churn(sql: Sql, ids: number[]) {
  let nextId = 300_000;
  const writes: Array<Promise<unknown>> = [];
  for (let i = 0; i < 300; i++) {
    const id = pick(ids);
    const what = rand();
    if (what < 0.2) writes.push(sql`UPDATE tasks SET submit_time = ${randomTime()} WHERE id = ${id}`);
    else if (what < 0.3)
      writes.push(sql`UPDATE tasks SET status = ${pick(STATUSES)}, action = ${pick(ACTIONS)} WHERE id = ${id}`);
    else if (what < 0.45) writes.push(sql`UPDATE tasks SET user_id = ${int(1, 3)} WHERE id = ${id}`);
    else if (what < 0.6)
      writes.push(sql`UPDATE tasks SET channel_id = ${int(0, 3)}, submit_time = ${randomTime()} WHERE id = ${id}`);
    else if (what < 0.7) writes.push(sql`UPDATE tasks SET id = ${nextId++} WHERE id = ${id}`);
    else if (what < 0.8) {
      writes.push(sql`INSERT INTO tasks (id, user_id, channel_id, submit_time) VALUES (${id}, ${int(1, 3)}, ${int(0, 3)}, ${randomTime()})
        ON CONFLICT (id) DO UPDATE SET user_id = EXCLUDED.user_id, channel_id = EXCLUDED.channel_id, submit_time = EXCLUDED.submit_time`);
    } else writes.push(sql`DELETE FROM tasks WHERE id = ${id}`);
  }
  await Promise.all(writes);
  await Promise.all([
    sql`UPDATE tasks SET submit_time = submit_time + 7 * 3600000 WHERE user_id = 2 AND id % 5 = 0`,
    sql`DELETE FROM tasks WHERE channel_id = 3 AND id % 7 = 0`,
    sql`UPDATE tasks SET progress = '100%', status = 'SUCCESS' WHERE user_id = 1`,
  ]);
}

async function naive(
  sql: Sql,
  f: TaskFilter,
  limit: number,
  offset: number,
): Promise<{ ids: number[]; total: number }> {
  const terms: string[] = [];
  const args: Array<number | string> = [];
  const add = (term: string, v: number | string) => {
    args.push(v);
    terms.push(`${term} $${args.length}`);
  };
  if (f.userId !== undefined) add('user_id =', f.userId);
  if (f.channelId !== undefined) add('channel_id =', f.channelId);
  if (f.mjId !== undefined) add('mj_id =', f.mjId);
  if (f.start !== undefined) add('submit_time >=', f.start);
  if (f.end !== undefined) add('submit_time <=', f.end);
  if (f.status !== undefined) add('status =', f.status);
  if (f.action !== undefined) add('action =', f.action);
  const where = terms.length ? `WHERE ${terms.join(' AND ')}` : '';
  const n = args.length;
  const ids = (
    await sql.unsafe(`SELECT id FROM tasks ${where} ORDER BY id DESC LIMIT $${n + 1} OFFSET $${n + 2}`, [
      ...args,
      limit,
      offset,
    ])
  ).map((r) => r.id as number);
  const [row] = await sql.unsafe(`SELECT count(*) AS n FROM tasks ${where}`, args);
  return { ids, total: row!.n as number };
}

function randomBound(): number {
  const r = rand();
  if (r < 0.3) return BASE + int(-3 * DAY, 7 * DAY);
  if (r < 0.4) return BASE + int(-70 * DAY, 70 * DAY);
  const edge = BASE + int(-3, 7) * pick([HOUR, DAY]);
  return Math.max(0, edge + pick([0, 1, -1]));
}

/** The filter shapes of the two endpoints (and a user+channel one no endpoint sends), at random. */
function randomFilter(i: number): TaskFilter {
  const f: TaskFilter = {};
  const scope = i % 4;
  if (scope === 1 || scope === 3) f.userId = int(1, 4);
  if (scope === 2 || (scope === 3 && rand() < 0.2)) f.channelId = int(0, 4);
  if (rand() < 0.15) f.mjId = `mj${int(0, 40)}`;
  const range = int(0, 3);
  if (range === 1 || range === 3) f.start = randomBound();
  if (range === 2 || range === 3) f.end = randomBound();
  if (f.start !== undefined && f.end !== undefined && f.start > f.end) [f.start, f.end] = [f.end, f.start];
  if (rand() < 0.3) f.status = pick([...STATUSES, 'MODAL']);
  if (rand() < 0.3) f.action = pick([...ACTIONS, 'BLEND']);
  return f;
}

async function same(t: TempPg, f: TaskFilter, p: number, pageSize: number) {
  const got = await listTasksPg(t.db, f, { p, page_size: pageSize });
  const ref = await naive(t.db.$client, f, pageSize, (p - 1) * pageSize);
  const label = JSON.stringify({ f, p, pageSize });
  expect({ label, total: got.total, ids: got.items.map((r) => r.id) }).toEqual({
    label,
    total: ref.total,
    ids: ref.ids,
  });
  return ref;
}

async function check(t: TempPg, cases: number) {
  const spansUsed = new Set<number>();
  for (let i = 0; i < cases; i++) {
    const f = randomFilter(i);
    if (f.start !== undefined && f.end !== undefined)
      for (const b of coverOf(f.start, f.end).buckets) spansUsed.add(b.span);
    const pageSize = pick([1, 7, 20, 100]);
    const ref0 = await naive(t.db.$client, f, 1, 0);
    // Pages near the start, deep inside (past the id-block threshold), at the end, past the end.
    const last = Math.max(1, Math.ceil(ref0.total / pageSize));
    await same(
      t,
      f,
      pick([1, 2, int(1, last), last, last + 1, Math.max(1, Math.floor(2100 / pageSize) + int(0, 30))]),
      pageSize,
    );
  }
  // Bounded ranges were summed from buckets of every span.
  expect([...spansUsed].sort((a, b) => a - b)).toEqual([...SPANS].sort((a, b) => a - b));
  // Deep pages (found through the id blocks) of everything and of a user, at every page size.
  let deep = 0;
  for (const f of [{}, { userId: 1 }]) {
    for (const pageSize of [1, 7, 20, 100]) {
      const ref = await same(t, f, Math.ceil(2048 / pageSize) + 1 + int(0, 3), pageSize);
      if (ref.ids.length > 0) deep++;
    }
  }
  expect(deep).toBe(8);
}

/** Buckets, blocks and counters recomputed from scratch equal the trigger-kept ones (bounds may be wider). */
async function checkCounters(sql: Sql) {
  for (const [scope, col] of [
    ['all', '0'],
    ['user', 'user_id'],
    ['channel', 'channel_id'],
  ] as const) {
    for (const span of SPANS) {
      const fresh =
        await sql.unsafe(`SELECT ${col} AS sid, CASE WHEN submit_time >= 0 THEN submit_time / ${span} ELSE -1 END AS b,
        count(*)::int AS n, min(id) AS lo, max(id) AS hi FROM tasks GROUP BY 1, 2 ORDER BY 1, 2`);
      const kept = await sql.unsafe(
        `SELECT scope_id AS sid, bucket AS b, sum(count)::int AS n, min(min_id) AS lo, max(max_id) AS hi
        FROM task_time_buckets WHERE scope = $1 AND span = $2 AND count <> 0 GROUP BY 1, 2 ORDER BY 1, 2`,
        [scope, span],
      );
      expect(kept.map((k) => [k.sid, k.b, k.n])).toEqual(fresh.map((k) => [k.sid, k.b, k.n]));
      kept.forEach((k, i) => {
        expect(k.lo <= fresh[i]!.lo && k.hi >= fresh[i]!.hi).toBe(true);
      });
      const negative = await sql`SELECT count(*)::int AS n FROM task_time_buckets WHERE count < 0`;
      expect(negative[0]!.n).toBe(0);
    }
    const rows = (q: string, args: string[]) => sql.unsafe(q, args).then((r) => r.map((x) => [x.sid, x.b, x.n]));
    for (const [level, shift] of [[0, 10]]) {
      expect(
        await rows(
          `SELECT scope_id AS sid, block AS b, sum(count)::int AS n FROM task_id_blocks WHERE scope = $1 AND level = ${level}
        GROUP BY 1, 2 HAVING sum(count) <> 0 ORDER BY 1, 2`,
          [scope],
        ),
      ).toEqual(
        await rows(
          `SELECT ${col} AS sid, id >> ${shift} AS b, count(*)::int AS n FROM tasks GROUP BY 1, 2 ORDER BY 1, 2`,
          [],
        ),
      );
    }
    expect(
      await rows(
        `SELECT scope_id AS sid, 0 AS b, sum(count)::int AS n FROM task_counters WHERE scope = $1
      GROUP BY 1 HAVING sum(count) <> 0 ORDER BY 1`,
        [scope],
      ),
    ).toEqual(await rows(`SELECT ${col} AS sid, 0 AS b, count(*)::int AS n FROM tasks GROUP BY 1 ORDER BY 1`, []));
    const matrix = (q: string, args: string[]) =>
      sql.unsafe(q, args).then((r) => r.map((x) => [x.sid, x.status, x.action, x.n]));
    expect(
      await matrix(
        `SELECT owner_id AS sid, status, action, sum(count)::int AS n FROM task_filter_counts WHERE owner = $1
      GROUP BY 1, 2, 3 HAVING sum(count) <> 0 ORDER BY 1, 2, 3`,
        [scope],
      ),
    ).toEqual(
      await matrix(
        `SELECT ${col} AS sid, status, action, count(*)::int AS n FROM tasks GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`,
        [],
      ),
    );
  }
}

describe('PostgreSQL listing equals the naive reference query', () => {
  let t: TempPg;
  let ids: number[];
  afterAll(async () => t?.cleanup());

  test('on rows inserted out of order from concurrent sessions', async () => {
    t = await tempPg({ poolSize: 8 });
    ids = await seed(t.db.$client, 4000);
    await checkCounters(t.db.$client);
    // Rows come back whole, with every column named as the schema's row type.
    const one = await listTasksPg(t.db, {}, { page_size: 1 });
    const [raw] = await t.db.$client`SELECT * FROM tasks ORDER BY id DESC LIMIT 1`;
    expect(one.items[0]).toMatchObject({
      id: raw!.id,
      userId: raw!.user_id,
      channelId: raw!.channel_id,
      mjId: raw!.mj_id,
      submitTime: raw!.submit_time,
      progress: '0%',
    });
    expect(Object.keys(one.items[0]!).length).toBe(24);
    await check(t, 100);
  }, 60_000);

  test('after moves, re-times, upserts and deletes with plain SQL from concurrent sessions', async () => {
    await churn(t.db.$client, ids);
    await checkCounters(t.db.$client);
    await check(t, 120);
  }, 60_000);

  test('paging: defaults, the 100 cap, and a page past the end with the true total', async () => {
    const d = await listTasksPg(t.db, { userId: 1 }, {});
    expect([d.page, d.page_size, d.items.length]).toEqual([1, 20, 20]);
    const capped = await listTasksPg(t.db, {}, { page_size: 500 });
    expect([capped.page_size, capped.items.length]).toEqual([100, 100]);
    const past = await listTasksPg(t.db, { userId: 1 }, { p: 10_000 });
    expect(past.items).toEqual([]);
    expect(past.total).toBe(d.total);
  });

  test('TRUNCATE empties the buckets and blocks', async () => {
    await t.db.$client`TRUNCATE tasks`;
    const [row] = await t.db
      .$client`SELECT (SELECT count(*) FROM task_time_buckets) + (SELECT count(*) FROM task_id_blocks)
        + (SELECT count(*) FROM task_filter_counts) AS n`;
    expect(row!.n).toBe(0);
    expect((await listTasksPg(t.db, { start: 0 }, {})).total).toBe(0);
  });
});

describe('PostgreSQL bucket slots', () => {
  let t: TempPg;
  afterAll(async () => t?.cleanup());

  test('two open transactions submitting into the same hour, user and channel do not wait on each other', async () => {
    t = await tempPg({ poolSize: 4 });
    const sql = t.db.$client;
    await sql`INSERT INTO tasks (id, user_id, channel_id, submit_time) VALUES (8, 1, 1, ${BASE})`;
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let firstInserted!: () => void;
    const inserted = new Promise<void>((r) => (firstInserted = r));
    // The first submit stays uncommitted, holding its slot rows of every bucket, block and counter.
    const first = sql.begin(async (tx) => {
      await tx`INSERT INTO tasks (id, user_id, channel_id, submit_time) VALUES (9, 1, 1, ${BASE + 1})`;
      firstInserted();
      await held;
    });
    await inserted;
    // The next id lands in other slots: it commits while the first is still open (a hot row
    // would block it until lock_timeout fails it).
    await sql.begin(async (tx) => {
      await tx`SET LOCAL lock_timeout = '10s'`;
      await tx`INSERT INTO tasks (id, user_id, channel_id, submit_time) VALUES (10, 1, 1, ${BASE + 2})`;
    });
    expect((await listTasksPg(t.db, { userId: 1, start: BASE, end: BASE + HOUR }, {})).items.map((r) => r.id)).toEqual([
      10, 8,
    ]);
    release();
    await first;
    const page = await listTasksPg(t.db, { channelId: 1, start: BASE, end: BASE + HOUR }, {});
    expect([page.total, page.items.map((r) => r.id)]).toEqual([3, [10, 9, 8]]);
  });
});
