import { Database } from 'bun:sqlite';
import { afterAll, describe, expect, test } from 'bun:test';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { drizzle } from 'drizzle-orm/bun-sqlite';
import { migrate } from 'drizzle-orm/bun-sqlite/migrator';
import { MIGRATIONS_FOLDER, openDatabase } from '../../src/db/client.ts';

/**
 * Migrations 0011–0012 (smaller rows: two indexes dropped, the listing tables rebuilt WITHOUT
 * ROWID) on a database seeded before them: every row, counter, bucket and id block is the same
 * after, and the triggers keep them exact under later SQL writes.
 */
const dir = mkdtempSync(join(tmpdir(), 'mjgw-migr-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The migrations folder as it was before `tag` (journal cut there). */
function foldersBefore(tag: string): string {
  const folder = join(dir, 'migrations');
  cpSync(MIGRATIONS_FOLDER, folder, { recursive: true });
  const journalPath = join(folder, 'meta/_journal.json');
  const journal = JSON.parse(readFileSync(journalPath, 'utf8')) as { entries: Array<{ tag: string }> };
  const cut = journal.entries.findIndex((e) => e.tag === tag);
  expect(cut).toBeGreaterThan(0);
  journal.entries = journal.entries.slice(0, cut);
  writeFileSync(journalPath, JSON.stringify(journal));
  return folder;
}

const snapshot = (c: Database) => ({
  tasks: c.query('SELECT * FROM tasks ORDER BY id').all(),
  counters: c.query('SELECT scope, scope_id, count FROM task_counters ORDER BY 1, 2').all(),
  buckets: c
    .query('SELECT scope, scope_id, span, bucket, count, min_id, max_id FROM task_time_buckets ORDER BY 1, 2, 3, 4')
    .all(),
  blocks: c.query('SELECT scope, scope_id, block, count FROM task_id_blocks ORDER BY 1, 2, 3').all(),
});

/** The counters, buckets and blocks recomputed from the rows (non-empty ones only). */
const recomputed = (c: Database) => ({
  counters: c
    .query(`SELECT * FROM (SELECT 'all' AS scope, 0 AS scope_id, count(*) AS count FROM tasks
    UNION ALL SELECT 'channel', channel_id, count(*) FROM tasks GROUP BY channel_id
    UNION ALL SELECT 'user', user_id, count(*) FROM tasks GROUP BY user_id) ORDER BY 1, 2`)
    .all(),
  buckets: c
    .query(`WITH b AS (SELECT t.*, s.span, CASE WHEN submit_time >= 0 THEN submit_time / s.span ELSE -1 END AS bucket
      FROM tasks t, (SELECT 60000 AS span UNION ALL SELECT 3600000 UNION ALL SELECT 86400000) s)
    SELECT * FROM (SELECT 'all' AS scope, 0 AS scope_id, span, bucket, count(*) AS count FROM b GROUP BY span, bucket
      UNION ALL SELECT 'channel', channel_id, span, bucket, count(*) FROM b GROUP BY channel_id, span, bucket
      UNION ALL SELECT 'user', user_id, span, bucket, count(*) FROM b GROUP BY user_id, span, bucket) ORDER BY 1, 2, 3, 4`)
    .all(),
  blocks: c
    .query(`SELECT * FROM (SELECT 'all' AS scope, 0 AS scope_id, id / 1024 AS block, count(*) AS count FROM tasks GROUP BY block
    UNION ALL SELECT 'channel', channel_id, id / 1024, count(*) FROM tasks GROUP BY channel_id, id / 1024
    UNION ALL SELECT 'user', user_id, id / 1024, count(*) FROM tasks GROUP BY user_id, id / 1024) ORDER BY 1, 2, 3`)
    .all(),
});
const stored = (c: Database) => ({
  counters: c.query('SELECT scope, scope_id, count FROM task_counters WHERE count <> 0 ORDER BY 1, 2').all(),
  buckets: c
    .query('SELECT scope, scope_id, span, bucket, count FROM task_time_buckets WHERE count <> 0 ORDER BY 1, 2, 3, 4')
    .all(),
  blocks: c.query('SELECT scope, scope_id, block, count FROM task_id_blocks WHERE count <> 0 ORDER BY 1, 2, 3').all(),
});

describe('smaller-rows migrations on a seeded database', () => {
  const path = join(dir, 'seeded.db');
  const old = new Database(path, { create: true, strict: true });
  old.exec('PRAGMA journal_mode = WAL; PRAGMA recursive_triggers = ON;');
  migrate(drizzle({ client: old }), { migrationsFolder: foldersBefore('0011_drop_redundant_indexes') });
  old.run(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000)
    INSERT INTO tasks (user_id, channel_id, mj_id, submit_time, progress, buttons)
    SELECT i % 7, i % 3, printf('mj-%d', i), CASE WHEN i % 97 = 0 THEN -5 ELSE 1700000000000 + i * 37000 END,
      CASE WHEN i % 10 = 0 THEN '0%' ELSE '100%' END, '[{"customId":"MJ::JOB::upsample::1::h","label":"U1"}]' FROM n`);
  old.run('DELETE FROM tasks WHERE id % 13 = 0');
  old.run('UPDATE tasks SET user_id = 9, submit_time = submit_time + 86400000 WHERE id % 11 = 0');
  const before = snapshot(old);
  old.close();

  const db = openDatabase(path);
  const c = db.$client;

  test('rows, counters, buckets and id blocks are identical after', () => {
    expect(before.tasks.length).toBeGreaterThan(2000);
    expect(snapshot(c)).toEqual(before);
  });

  test('the indexes are dropped and the listing tables are WITHOUT ROWID', () => {
    const names = (c.query("SELECT name FROM sqlite_schema WHERE type = 'index'").all() as Array<{ name: string }>).map(
      (r) => r.name,
    );
    expect(names).not.toContain('tasks_user_id_mj_id_idx');
    expect(names).not.toContain('task_time_buckets_cover_idx');
    for (const t of ['task_counters', 'task_time_buckets', 'task_id_blocks']) {
      expect((c.query('SELECT sql FROM sqlite_schema WHERE name = ?').get(t) as { sql: string }).sql).toMatch(
        /WITHOUT ROWID\s*$/,
      );
    }
    expect(c.query('PRAGMA integrity_check').get()).toEqual({ integrity_check: 'ok' });
    expect(c.query('PRAGMA legacy_alter_table').get()).toEqual({ legacy_alter_table: 0 });
  });

  test('the triggers keep every counter, bucket and block exact under later SQL writes', () => {
    c.run(
      `INSERT INTO tasks (user_id, channel_id, submit_time) VALUES (1, 2, 1800000000000), (4, 0, -1), (5, 1, 1700000000001)`,
    );
    c.run('UPDATE tasks SET channel_id = 5, submit_time = submit_time - 3600000 WHERE id % 17 = 0');
    c.run('DELETE FROM tasks WHERE id % 19 = 0');
    c.run('INSERT OR REPLACE INTO tasks (id, user_id, channel_id, submit_time) VALUES (20, 3, 3, 1700000000000)');
    expect(stored(c)).toEqual(recomputed(c));
  });
});
