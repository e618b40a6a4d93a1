import { afterAll, describe, expect, test } from 'bun:test';
import postgres from 'postgres';
import { explainListing, type TaskFilter } from '../../src/db/pg/listing.ts';
import { DAY, HOUR, rangeWindow, type Scope } from '../../src/db/pg/task-windows.ts';
import { type TempPg, tempPg } from '../helpers/pg.ts';

/** No statement of the PostgreSQL listing scans `tasks` sequentially at 100k rows (SPEC §12/§13). */

const BASE = 1_712_016_000_000; // a UTC midnight

function nodeTypes(plan: unknown): string[] {
  if (Array.isArray(plan)) return plan.flatMap(nodeTypes);
  if (!plan || typeof plan !== 'object') return [];
  const o = plan as Record<string, unknown>;
  const here = o['Node Type'] === 'Seq Scan' ? [`Seq Scan on ${String(o['Relation Name'])}`] : [];
  return [...here, ...Object.values(o).flatMap(nodeTypes)];
}

describe('PostgreSQL listing plans at 100k rows', () => {
  let t: TempPg;
  afterAll(async () => t?.cleanup());

  test('no statement of any filter shape scans tasks sequentially', async () => {
    t = await tempPg();
    const sql = t.db.$client;
    // 100k rows over ~35 days, 200 users, 8 channels; ids and times mostly agree, as in traffic.
    await sql`INSERT INTO tasks (user_id, channel_id, mj_id, submit_time, status, action)
      SELECT 1 + g % 200, g % 8, 'mj' || g, ${BASE}::bigint + g::bigint * 30000,
        CASE WHEN g % 50 = 0 THEN 'FAILURE' WHEN g % 97 = 0 THEN 'IN_PROGRESS' ELSE 'SUCCESS' END,
        CASE g % 4 WHEN 0 THEN 'UPSCALE' WHEN 1 THEN 'VARIATION' ELSE 'IMAGINE' END
      FROM generate_series(1, 100000) g`;
    await sql`ANALYZE`;
    const mid = BASE + 50_000 * 30_000;
    const shapes: Array<[TaskFilter, number]> = [
      [{ userId: 7 }, 1],
      [{ userId: 7, mjId: 'mj407' }, 1],
      [{ userId: 7, start: mid, end: mid + 2 * DAY + 5 }, 1],
      [{ userId: 7, start: mid + 7 }, 1],
      [{ userId: 7, end: mid - 3 }, 1],
      [{ userId: 7 }, 25],
      [{}, 1],
      [{ channelId: 3 }, 1],
      [{ mjId: 'mj5000' }, 1],
      [{ start: mid + 11, end: mid + 3 * HOUR }, 1],
      [{ start: mid }, 1],
      [{ end: mid }, 1],
      [{ channelId: 3, start: mid - DAY, end: mid + DAY }, 1],
      [{}, 2000],
      [{ channelId: 3 }, 300],
      [{ start: mid - 5 * DAY, end: mid + 5 * DAY }, 200],
      [{ status: 'FAILURE' }, 1],
      [{ status: 'IN_PROGRESS', action: 'IMAGINE' }, 1],
      [{ userId: 7, status: 'FAILURE' }, 1],
      [{ userId: 7, action: 'UPSCALE' }, 3],
      [{ channelId: 3, status: 'SUCCESS' }, 1],
      [{ action: 'IMAGINE' }, 100],
    ];
    // The check sees a sequential scan where there is one.
    const [unindexed] = await sql`EXPLAIN (FORMAT JSON) SELECT id FROM tasks WHERE prompt = ${'x'}`;
    expect(nodeTypes(unindexed!['QUERY PLAN'])).toEqual(['Seq Scan on tasks']);
    const seen = new Set<string>();
    for (const [f, p] of shapes) {
      const { variant, plans } = await explainListing(t.db, f, { p, page_size: 20 });
      seen.add(variant);
      expect({ f, p, seq: plans.flatMap(nodeTypes).filter((n) => n === 'Seq Scan on tasks') }).toEqual({
        f,
        p,
        seq: [],
      });
    }
    expect([...seen].sort()).toEqual(['below', 'plain', 'window']);

    // A range's total runs inside tasks_range_window as generic plans: auto_explain shows them.
    const plans: unknown[] = [];
    const watcher = postgres(t.url, {
      max: 1,
      onnotice: (n) => {
        const text = String(n.message);
        if (text.includes('plan:')) plans.push(JSON.parse(text.slice(text.indexOf('{'))));
      },
    });
    try {
      for (const set of [
        'auto_explain.log_min_duration = 0',
        'auto_explain.log_nested_statements = on',
        "auto_explain.log_format = 'json'",
        "client_min_messages = 'log'",
      ])
        await watcher.unsafe(`SET ${set}`);
      await watcher`LOAD 'auto_explain'`;
      const scopes: Scope[] = [
        { scope: 'all', scopeId: 0, column: null },
        { scope: 'user', scopeId: 7, column: 'user_id' },
        { scope: 'channel', scopeId: 3, column: 'channel_id' },
      ];
      for (const s of scopes) {
        for (const [a, b] of [
          [mid + 11, mid + 3 * HOUR],
          [mid - 40 * DAY + 5, mid + 40 * DAY - 5],
          [mid, undefined],
          [undefined, mid],
        ]) {
          // Repeated past the first calls, so the cached generic plans are the ones shown.
          for (let i = 0; i < 3; i++) await rangeWindow(watcher, s, a, b);
        }
      }
    } finally {
      await watcher.end();
    }
    const onTasks = plans.filter((p) => JSON.stringify(p).includes('"Relation Name":"tasks"'));
    expect(onTasks.length).toBeGreaterThanOrEqual(36);
    expect(plans.flatMap(nodeTypes).filter((n) => n === 'Seq Scan on tasks')).toEqual([]);
  }, 120_000);
});
