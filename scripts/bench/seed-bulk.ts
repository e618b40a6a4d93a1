import { Database } from 'bun:sqlite';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { drizzle } from 'drizzle-orm/bun-sqlite';
import { migrate } from 'drizzle-orm/bun-sqlite/migrator';
import { MIGRATIONS_FOLDER, SQLITE_PAGE_SIZE } from '../../src/db/client.ts';
import { progress } from './log.ts';
import { seedProgress, taskInserter } from './seed.ts';

/**
 * Bulk seed (issue 15 point 5): a seeded file made the way an old production database meets new
 * migrations. Only the first migration (the tables) is applied, the tasks go in with no index and
 * no trigger, and then every later migration runs as on a file that already holds rows: each
 * backfills its counters, buckets and indexes set-based from the rows and installs the triggers
 * that keep them from then on. So the rollups come from the migrations' own SQL (no copy here
 * that could drift from the triggers); tests/unit/bench-seed.test.ts checks the result equals
 * the row-by-row seed through the triggers, table by table.
 */

const BATCH = 200_000;

interface Journal {
  entries: { tag: string }[];
}

/** A migrations folder holding only the first migration of `folder` (SQLite's or PostgreSQL's). */
export function firstMigrationFolder(folder = MIGRATIONS_FOLDER): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'mj-bench-migrations-'));
  const journal = JSON.parse(readFileSync(join(folder, 'meta/_journal.json'), 'utf8')) as Journal;
  const first = journal.entries[0];
  if (!first) throw new Error(`${folder}/meta/_journal.json lists no migration`);
  mkdirSync(join(dir, 'meta'));
  writeFileSync(join(dir, 'meta/_journal.json'), JSON.stringify({ ...journal, entries: [first] }));
  copyFileSync(join(folder, `${first.tag}.sql`), join(dir, `${first.tag}.sql`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Fills a new file at `path` with the bench's `total` tasks, migrated to the latest schema. */
export function bulkSeed(path: string, total: number): void {
  bulkMigrated(path, (sqlite) => {
    const insert = taskInserter(sqlite);
    const batch = sqlite.transaction((from: number, to: number) => insert(from, to));
    const report = seedProgress('bulk seeding', total);
    for (let from = 0; from < total; from += BATCH) {
      const to = Math.min(total, from + BATCH);
      batch(from, to);
      report(to);
    }
  });
}

/**
 * A new file at `path` migrated to the latest schema around `fill`, which writes tasks (and only
 * tasks) into the tables of the first migration; the later migrations then backfill from them.
 */
export function bulkMigrated(path: string, fill: (sqlite: Database) => void): void {
  const sqlite = new Database(path, { create: true, strict: true });
  sqlite.exec(`PRAGMA page_size = ${SQLITE_PAGE_SIZE};`);
  // Seed only: a crash mid-seed leaves a `.partial` file that is thrown away, so no durability.
  sqlite.exec(
    'PRAGMA journal_mode = MEMORY; PRAGMA synchronous = OFF; PRAGMA cache_size = -1048576; PRAGMA temp_store = MEMORY;',
  );
  sqlite.exec('PRAGMA foreign_keys = ON; PRAGMA recursive_triggers = ON;');
  const db = drizzle({ client: sqlite });
  const first = firstMigrationFolder();
  try {
    migrate(db, { migrationsFolder: first.dir });
  } finally {
    first.cleanup();
  }
  const triggers = sqlite
    .query<{ name: string }, []>(`SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'tasks'`)
    .all();
  if (triggers.length)
    throw new Error(
      `the first migration already has task triggers (${triggers.map((t) => t.name).join(', ')}): the bulk seed cannot skip them`,
    );
  // Indexes built once after the rows (one sorted pass each) instead of kept up on every insert.
  const indexes = sqlite
    .query<{ name: string; sql: string }, []>(
      `SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'tasks' AND sql IS NOT NULL`,
    )
    .all();
  for (const { name } of indexes) sqlite.run(`DROP INDEX "${name}"`);
  fill(sqlite);
  let t0 = performance.now();
  for (const { sql } of indexes) sqlite.run(sql);
  progress(
    `  ${indexes.length} indexes of the first migration built in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  t0 = performance.now();
  migrate(db, { migrationsFolder: MIGRATIONS_FOLDER });
  progress(
    `  later migrations (backfills, indexes, triggers) applied in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  sqlite.close();
}
