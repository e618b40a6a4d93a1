import { describe, expect, test } from 'bun:test';
import { Placeholder } from 'drizzle-orm';
import { FEED_READS_SQL } from '../../src/db/sqlite/feed-reads.ts';
import { ANY_OVERSIZE_SQL, listingSql, taskReadsSql } from '../../src/db/sqlite/listing.ts';
import { RETENTION_TASK_PAGE_SQL } from '../../src/db/sqlite/retention.ts';
import { UNFINISHED_CHANNELS_SQL, UNFINISHED_PAGE_SQL } from '../../src/db/sqlite/sync.ts';
import { BLOCKS_SQL, windowSql } from '../../src/db/sqlite/task-windows.ts';
import type { TaskFilter } from '../../src/domain/tasks.ts';
import { memoryDb } from '../helpers/db.ts';

/**
 * Every listing shape must be answered through an index: at millions of rows a full scan of
 * `tasks` (or sorting all matches) would make page 1 slow.
 */
const db = memoryDb();
// A little data and fresh statistics so the planner sees a realistic table.
db.$client.run(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)
  INSERT INTO tasks (user_id, channel_id, mj_id, submit_time, progress, status, action)
  SELECT i % 50, i % 4, printf('%016d', i), 1700000000000 + i * 1000, CASE WHEN i % 10 = 0 THEN '0%' ELSE '100%' END,
    CASE WHEN i % 10 = 0 THEN 'IN_PROGRESS' WHEN i % 7 = 0 THEN 'FAILURE' ELSE 'SUCCESS' END,
    CASE i % 3 WHEN 0 THEN 'IMAGINE' WHEN 1 THEN 'UPSCALE' ELSE 'VARIATION' END FROM n`);
db.$client.run('ANALYZE');

const values: Record<string, unknown> = {
  userId: 7,
  channelId: 2,
  mjId: '0000000000000123',
  start: 1700000100000,
  end: 1700000200000,
  limit: 20,
  offset: 0,
  lo: 100,
  hi: 4000,
  below: 3072,
  status: 'FAILURE',
  action: 'UPSCALE',
};

function plan(sqlText: string, params: unknown[]): string[] {
  const bound = params.map((p) => (p instanceof Placeholder ? values[p.name] : p));
  const rows = db.$client.query(`EXPLAIN QUERY PLAN ${sqlText}`).all(...(bound as never[])) as Array<{
    detail: string;
  }>;
  return rows.map((r) => r.detail);
}

const userShapes: Array<[string, TaskFilter]> = [
  ['user', { userId: 7 }],
  ['user + mj_id', { userId: 7, mjId: 'x' }],
  ['user + start', { userId: 7, start: 1 }],
  ['user + end', { userId: 7, end: 1 }],
  ['user + start + end', { userId: 7, start: 1, end: 1 }],
  ['user + all filters', { userId: 7, mjId: 'x', start: 1, end: 1 }],
  ['user + status', { userId: 7, status: 'FAILURE' }],
  ['user + action', { userId: 7, action: 'UPSCALE' }],
  ['user + status + action + range', { userId: 7, status: 'FAILURE', action: 'UPSCALE', start: 1, end: 1 }],
];
const adminShapes: Array<[string, TaskFilter]> = [
  ['admin + channel', { channelId: 2 }],
  ['admin + mj_id', { mjId: 'x' }],
  ['admin + start + end', { start: 1, end: 1 }],
  ['admin + start', { start: 1 }],
  ['admin + end', { end: 1 }],
  ['admin + channel + mj_id', { channelId: 2, mjId: 'x' }],
  ['admin + channel + range', { channelId: 2, start: 1, end: 1 }],
  ['admin + all filters', { channelId: 2, mjId: 'x', start: 1, end: 1 }],
  ['admin + status', { status: 'FAILURE' }],
  ['admin + action', { action: 'UPSCALE' }],
  ['admin + channel + status', { channelId: 2, status: 'FAILURE' }],
];

describe('listing queries use indexes (EXPLAIN QUERY PLAN)', () => {
  for (const [name, filter] of [...userShapes, ...adminShapes]) {
    test(`${name}: no full scan of tasks`, () => {
      const { page, count } = listingSql(db, filter);
      for (const detail of [...plan(page.sql, page.params), ...plan(count.sql, count.params)]) {
        // "SCAN tasks" without an index would read every row.
        expect(detail).not.toMatch(/^SCAN tasks$/);
        if (detail.startsWith('SCAN tasks')) expect(detail).toMatch(/USING (COVERING )?INDEX/);
      }
    });
  }

  test('admin without filters walks the primary key newest-first and stops at the page', () => {
    const { page } = listingSql(db, {});
    const details = plan(page.sql, page.params);
    // The only scan is of the rowid b-tree in id order (no sort), bounded by LIMIT; the total
    // comes from the trigger-maintained counter, not from count(*).
    expect(details.some((d) => /USE TEMP B-TREE/.test(d))).toBe(false);
    expect(details.filter((d) => d.startsWith('SCAN tasks')).every((d) => d === 'SCAN tasks' || /INDEX/.test(d))).toBe(
      true,
    );
  });

  test('the page query never sorts with a temp b-tree for the unfiltered user and channel shapes', () => {
    for (const filter of [{ userId: 7 }, { channelId: 2 }]) {
      const { page } = listingSql(db, filter);
      expect(plan(page.sql, page.params).some((d) => /TEMP B-TREE/.test(d))).toBe(false);
    }
  });

  test('a first page reads its rows straight off the walk its id list would take', () => {
    const shapes: Array<[TaskFilter, number]> = [
      ...userShapes,
      ...adminShapes,
      ['admin', {}] as [string, TaskFilter],
    ].flatMap(
      ([, f]) =>
        [
          [f, 0],
          [f, 40_000],
        ] as Array<[TaskFilter, number]>,
    );
    for (const [filter, offset] of shapes) {
      const { page, first } = listingSql(db, filter, offset);
      const walk = (sqlText: string, params: unknown[]) =>
        plan(sqlText, params)
          .filter((d) => /^(SEARCH|SCAN) tasks/.test(d) && !d.includes('(rowid=?)'))
          .map((d) => d.replace('COVERING INDEX', 'INDEX'));
      expect(first).not.toBeNull();
      expect({ filter, offset, walk: walk(first!.sql, first!.params) }).toEqual({
        filter,
        offset,
        walk: walk(page.sql, page.params),
      });
      const sorts = (sqlText: string, params: unknown[]) => plan(sqlText, params).some((d) => /TEMP B-TREE/.test(d));
      expect(sorts(first!.sql, first!.params)).toBe(sorts(page.sql, page.params));
    }
    // A scan's top-k sort keeps ids only.
    expect(listingSql(db, { start: 1, end: 1 }, 0, 'scan').first).toBeNull();
  });

  test('the poller finds unfinished tasks through the partial index', () => {
    const details = plan("SELECT id, channel_id FROM tasks WHERE progress <> '100%' ORDER BY channel_id, id", []);
    expect(details.join('\n')).toContain('tasks_unfinished_idx');
  });

  test('a retention group walks the time index in order, never sorting every finished task', () => {
    const details = plan(RETENTION_TASK_PAGE_SQL, [1700004000000, 1700000000000, 0, 10]).join('\n');
    expect(details).toContain('USING INDEX tasks_submit_time_idx');
    expect(details).not.toContain('TEMP B-TREE');
    // Left to itself on a file without statistics (as the product's are), the planner takes the
    // partial (status) index and sorts: the reason for the pin.
    const bare = memoryDb();
    const unpinned = bare.$client
      .query(`EXPLAIN QUERY PLAN ${RETENTION_TASK_PAGE_SQL.replace(' INDEXED BY tasks_submit_time_idx', '')}`)
      .all(1700004000000, 1700000000000, 0, 10) as Array<{ detail: string }>;
    expect(unpinned.map((r) => r.detail).join('\n')).toContain('TEMP B-TREE');
    const pinned = bare.$client
      .query(`EXPLAIN QUERY PLAN ${RETENTION_TASK_PAGE_SQL}`)
      .all(1700004000000, 1700000000000, 0, 10) as Array<{ detail: string }>;
    expect(pinned.map((r) => r.detail).join('\n')).not.toContain('TEMP B-TREE');
  });
});

describe('time ranges and deep pages stay bounded (EXPLAIN QUERY PLAN)', () => {
  const rangeShapes: Array<[string, TaskFilter, RegExp]> = [
    ['admin + range', { start: 1, end: 1 }, /^SEARCH tasks USING INTEGER PRIMARY KEY \(rowid>\? AND rowid<\?\)$/],
    ['admin + start', { start: 1 }, /^SEARCH tasks USING INTEGER PRIMARY KEY \(rowid>\? AND rowid<\?\)$/],
    ['admin + end', { end: 1 }, /^SEARCH tasks USING INTEGER PRIMARY KEY \(rowid>\? AND rowid<\?\)$/],
    [
      'user + range',
      { userId: 7, start: 1, end: 1 },
      /^SEARCH tasks USING (COVERING )?INDEX tasks_user_id_id_idx \(user_id=\? AND id>\? AND id<\?\)$/,
    ],
    [
      'user + end',
      { userId: 7, end: 1 },
      /^SEARCH tasks USING (COVERING )?INDEX tasks_user_id_id_idx \(user_id=\? AND id>\? AND id<\?\)$/,
    ],
    [
      'admin + channel + range',
      { channelId: 2, start: 1, end: 1 },
      /^SEARCH tasks USING (COVERING )?INDEX tasks_channel_id_id_idx \(channel_id=\? AND id>\? AND id<\?\)$/,
    ],
  ];
  for (const [name, filter, walk] of rangeShapes) {
    test(`${name}: the page walks the id index inside the range's id window, newest first, without sorting`, () => {
      const { variant, page } = listingSql(db, filter);
      expect(variant).toBe('window');
      const details = plan(page.sql, page.params);
      expect(details.some((d) => walk.test(d))).toBe(true);
      expect(details.some((d) => /TEMP B-TREE/.test(d))).toBe(false);
    });
  }

  const scanShapes: Array<[string, TaskFilter, RegExp]> = [
    [
      'admin + range',
      { start: 1, end: 1 },
      /^SEARCH tasks USING COVERING INDEX tasks_submit_time_idx \(submit_time>\? AND submit_time<\?\)$/,
    ],
    [
      'user + end',
      { userId: 7, end: 1 },
      /^SEARCH tasks USING COVERING INDEX tasks_user_id_submit_time_idx \(user_id=\? AND submit_time<\?\)$/,
    ],
    [
      'admin + channel + range',
      { channelId: 2, start: 1, end: 1 },
      /^SEARCH tasks USING COVERING INDEX tasks_channel_id_submit_time_idx \(channel_id=\? AND submit_time>\? AND submit_time<\?\)$/,
    ],
  ];
  for (const [name, filter, walk] of scanShapes) {
    test(`${name}: a scan reads only the range through its time index (ids out of time order)`, () => {
      const { variant, page } = listingSql(db, filter, 0, 'scan');
      expect(variant).toBe('scan');
      const details = plan(page.sql, page.params);
      expect(details.some((d) => walk.test(d))).toBe(true);
      expect(details).not.toContain('SCAN tasks');
    });
  }

  // Without statistics (no ANALYZE has run, as on a fresh production file) the planner must pick
  // the same bounded searches: OR-ed pieces once made it read every bucket and row of the scope.
  const bare = memoryDb();
  bare.$client.run(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
    INSERT INTO tasks (user_id, channel_id, mj_id, submit_time) SELECT i % 50, i % 4, printf('%016d', i), 1700000000000 + i * 1000 FROM n`);
  for (const [label, conn] of [
    ['with statistics', db],
    ['without statistics', bare],
  ] as const) {
    test(`a range total reads bucket rows from their primary key and counts only edge minutes through an index (${label})`, () => {
      const exact: Array<[string | null, string]> = [
        [null, 'SEARCH tasks USING COVERING INDEX tasks_submit_time_idx (submit_time>? AND submit_time<?)'],
        [
          'user_id',
          'SEARCH tasks USING COVERING INDEX tasks_user_id_submit_time_idx (user_id=? AND submit_time>? AND submit_time<?)',
        ],
        [
          'channel_id',
          'SEARCH tasks USING COVERING INDEX tasks_channel_id_submit_time_idx (channel_id=? AND submit_time>? AND submit_time<?)',
        ],
      ];
      for (const [column, expected] of exact) {
        const text = windowSql(column);
        const rows = conn.$client
          .query(`EXPLAIN QUERY PLAN ${text}`)
          .all('user', 7, ...Array.from({ length: 19 }, () => 1)) as Array<{ detail: string }>;
        const searches = rows.map((r) => r.detail).filter((d) => /^(SEARCH|SCAN) task/.test(d));
        // WITHOUT ROWID: the primary key b-tree is the table, so it covers every column.
        const bucket =
          'SEARCH task_time_buckets USING PRIMARY KEY (scope=? AND scope_id=? AND span=? AND bucket>? AND bucket<?)';
        expect(searches).toEqual([bucket, bucket, bucket, bucket, bucket, expected, expected]);
      }
    });
  }

  test('a deep page seeks below an id block instead of offsetting over the table', () => {
    for (const [filter, walk] of [
      [{}, /^SEARCH tasks USING INTEGER PRIMARY KEY \(rowid<\?\)$/],
      [{ userId: 7 }, /^SEARCH tasks USING (COVERING )?INDEX tasks_user_id_id_idx \(user_id=\? AND id<\?\)$/],
      [{ channelId: 2 }, /^SEARCH tasks USING (COVERING )?INDEX tasks_channel_id_id_idx \(channel_id=\? AND id<\?\)$/],
    ] as Array<[TaskFilter, RegExp]>) {
      const { variant, page } = listingSql(db, filter, 40_000);
      expect(variant).toBe('below');
      const details = plan(page.sql, page.params);
      expect(details.some((d) => walk.test(d))).toBe(true);
      expect(details.some((d) => /TEMP B-TREE/.test(d))).toBe(false);
    }
    expect(plan(BLOCKS_SQL, ['all', 0]).join('\n')).toMatch(
      /^SEARCH task_id_blocks USING PRIMARY KEY \(scope=\? AND scope_id=\?\)$/,
    );
  });
});

describe('every index on tasks is used, and each statement uses the one it was made for (EXPLAIN QUERY PLAN)', () => {
  /** Each statement the app runs on tasks (besides writes by id), with the index its plan must name. */
  function statements(): Array<{ name: string; sql: string; params: unknown[]; uses: string }> {
    const out: Array<{ name: string; sql: string; params: unknown[]; uses: string }> = [];
    const reads = taskReadsSql(db);
    out.push({
      name: 'task by mj_id (any user: image forwarder, admin fetch)',
      ...reads.byMjId,
      uses: 'tasks_mj_id_idx',
    });
    // mj_id is (near) unique, so (mj_id) answers the per-user lookup with a one-row filter; the
    // (user_id, mj_id) index it used to take is gone (27 B a row, two pages of WAL per submit).
    out.push({ name: "a user's task by mj_id (relay fetch, actions)", ...reads.ownByMjId, uses: 'tasks_mj_id_idx' });
    out.push({ name: 'image read by mj_id', ...reads.image, uses: 'tasks_mj_id_idx' });
    out.push({ name: 'list-by-condition', ...reads.ownByMjIds, uses: 'tasks_mj_id_idx' });
    out.push({ name: 'task by id', ...reads.byId, uses: 'INTEGER PRIMARY KEY' });
    out.push({
      name: 'unfinished channels (poller)',
      sql: UNFINISHED_CHANNELS_SQL,
      params: [],
      uses: 'tasks_unfinished_idx',
    });
    out.push({
      name: 'unfinished page of a channel (poller)',
      sql: UNFINISHED_PAGE_SQL,
      params: [1, 0, 100],
      uses: 'tasks_unfinished_idx',
    });
    out.push({ name: 'oversize probe', sql: ANY_OVERSIZE_SQL, params: [], uses: 'tasks_oversize_idx' });
    out.push({
      name: 'feed replay of a user',
      sql: FEED_READS_SQL.replayUser,
      params: [7, 1, 1, 10],
      uses: 'tasks_user_id_submit_time_idx',
    });
    out.push({
      name: 'feed replay of all',
      sql: FEED_READS_SQL.replayAll,
      params: [1, 1, 10],
      uses: 'tasks_submit_time_idx',
    });
    out.push({
      name: 'feed fingerprint',
      sql: FEED_READS_SQL.fingerprintOne,
      params: [1],
      uses: 'INTEGER PRIMARY KEY',
    });
    const shapes: Array<[string, TaskFilter, number, 'window' | 'scan', string]> = [
      ['admin page', {}, 0, 'window', 'SCAN tasks'],
      ['user page', { userId: 7 }, 0, 'window', 'tasks_user_id_id_idx'],
      ['channel page', { channelId: 2 }, 0, 'window', 'tasks_channel_id_id_idx'],
      ['user deep page', { userId: 7 }, 40_000, 'window', 'tasks_user_id_id_idx'],
      ['channel deep page', { channelId: 2 }, 40_000, 'window', 'tasks_channel_id_id_idx'],
      ['user + mj_id page', { userId: 7, mjId: 'x' }, 0, 'window', 'tasks_mj_id_idx'],
      ['admin range scan', { start: 1, end: 1 }, 0, 'scan', 'tasks_submit_time_idx'],
      ['user range scan', { userId: 7, start: 1, end: 1 }, 0, 'scan', 'tasks_user_id_submit_time_idx'],
      ['channel range scan', { channelId: 2, start: 1, end: 1 }, 0, 'scan', 'tasks_channel_id_submit_time_idx'],
      ['status page', { status: 'FAILURE' }, 0, 'window', 'tasks_status_idx'],
      ['user + status page', { userId: 7, status: 'FAILURE' }, 0, 'window', 'tasks_user_id_status_idx'],
      ['action page', { action: 'UPSCALE' }, 0, 'window', 'tasks_action_idx'],
      ['user + action page', { userId: 7, action: 'UPSCALE' }, 0, 'window', 'tasks_user_id_action_idx'],
    ];
    for (const [name, f, offset, range, uses] of shapes)
      out.push({ name, ...listingSql(db, f, offset, range).page, uses });
    out.push({
      name: 'user + mj_id total',
      ...listingSql(db, { userId: 7, mjId: 'x' }).count,
      uses: 'tasks_mj_id_idx',
    });
    for (const [column, uses] of [
      [null, 'tasks_submit_time_idx'],
      ['user_id', 'tasks_user_id_submit_time_idx'],
      ['channel_id', 'tasks_channel_id_submit_time_idx'],
    ] as const) {
      out.push({
        name: `range total (${column ?? 'all'})`,
        sql: windowSql(column),
        params: ['user', 7, ...Array.from({ length: 19 }, () => 1)],
        uses,
      });
    }
    return out;
  }

  // Without statistics (a fresh production file) too: there the planner once preferred walking
  // all of a user's rows in id order to the (mj_id) index for a user's mj_id page.
  const fresh = memoryDb();
  fresh.$client.run(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
    INSERT INTO tasks (user_id, channel_id, mj_id, submit_time) SELECT i % 50, i % 4, printf('%016d', i), 1700000000000 + i * 1000 FROM n`);
  const planOn = (conn: typeof db, sqlText: string, params: unknown[]) => {
    const bound = params.map((p) => (p instanceof Placeholder ? values[p.name] : p));
    return (
      conn.$client.query(`EXPLAIN QUERY PLAN ${sqlText}`).all(...(bound as never[])) as Array<{ detail: string }>
    ).map((r) => r.detail);
  };
  for (const [label, conn] of [
    ['with statistics', db],
    ['without statistics', fresh],
  ] as const) {
    for (const s of statements()) {
      test(`${s.name} uses ${s.uses} (${label})`, () => {
        const details = planOn(conn, s.sql, s.params).filter((d) => /^(SEARCH|SCAN) tasks/.test(d));
        expect(details.join('\n')).toContain(s.uses);
      });
    }
  }

  test('no index on tasks is left that no statement uses', () => {
    const indexes = (db.$client.query("SELECT name FROM pragma_index_list('tasks')").all() as Array<{ name: string }>)
      .map((r) => r.name)
      .sort();
    const used = new Set(
      statements().flatMap((s) => plan(s.sql, s.params).flatMap((d) => /INDEX (\w+)/.exec(d)?.[1] ?? [])),
    );
    expect(indexes.filter((name) => !used.has(name))).toEqual([]);
    expect(indexes).toEqual([
      'tasks_action_idx',
      'tasks_channel_id_id_idx',
      'tasks_channel_id_submit_time_idx',
      'tasks_mj_id_idx',
      'tasks_oversize_idx',
      'tasks_status_idx',
      'tasks_submit_time_idx',
      'tasks_unfinished_idx',
      'tasks_user_id_action_idx',
      'tasks_user_id_id_idx',
      'tasks_user_id_status_idx',
      'tasks_user_id_submit_time_idx',
    ]);
  });

  test('the listing tables are WITHOUT ROWID, stored once in their primary key', () => {
    for (const table of ['task_counters', 'task_time_buckets', 'task_id_blocks', 'task_filter_counts']) {
      const { sql } = db.$client.query('SELECT sql FROM sqlite_schema WHERE name = ?').get(table) as { sql: string };
      expect({ table, withoutRowid: /WITHOUT ROWID\s*$/.test(sql) }).toEqual({ table, withoutRowid: true });
      // Only the primary key: no second copy of the rows in another index.
      const indexes = db.$client.query(`SELECT name, origin FROM pragma_index_list('${table}')`).all() as Array<{
        origin: string;
      }>;
      expect(indexes.map((i) => i.origin)).toEqual(['pk']);
    }
  });
});
