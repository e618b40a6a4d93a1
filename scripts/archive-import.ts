import { Database } from 'bun:sqlite';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { gunzipSync } from 'node:zlib';

/**
 * Load a retention archive (`tasks-2026-11.jsonl.gz` or `logs-…`) into a SQLite file's
 * `tasks_archive` / `logs_archive` table (made like `tasks` / `logs` when missing), to query it
 * there: `bun scripts/archive-import.ts data/archive/tasks-2026-11.jsonl.gz data/mj-gateway.db`.
 * node:zlib reads every gzip member of the file (Bun.gunzipSync only the first).
 */
const [file, dbPath] = process.argv.slice(2);
const table = basename(file ?? '').match(/^(tasks|logs)-\d{4}-\d{2}\.jsonl\.gz$/)?.[1];
if (!file || !dbPath || !table) {
  console.error('usage: bun scripts/archive-import.ts <ARCHIVE_DIR>/tasks-YYYY-MM.jsonl.gz <sqlite file>');
  process.exit(2);
}
const db = new Database(dbPath);
db.run(`CREATE TABLE IF NOT EXISTS ${table}_archive AS SELECT * FROM ${table} WHERE 0`);
const rows = gunzipSync(readFileSync(file))
  .toString('utf8')
  .split('\n')
  .filter((line) => line !== '')
  .map((line) => JSON.parse(line) as Record<string, string | number | null>);
const columns = Object.keys(rows[0] ?? {});
if (columns.length > 0) {
  const insert = db.prepare(
    `INSERT INTO ${table}_archive (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`,
  );
  db.transaction(() => {
    for (const row of rows) insert.run(...columns.map((c) => row[c] ?? null));
  })();
}
console.log(`${rows.length} rows into ${table}_archive`);
db.close();
