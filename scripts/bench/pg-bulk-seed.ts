import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { drizzle } from 'drizzle-orm/postgres-js';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import { PG_MIGRATIONS_FOLDER } from '../../src/db/pg/client.ts';
import { fmtCount, progress } from './log.ts';
import {
  checkPgCounters,
  connect,
  createPgDatabase,
  emptyPgDatabase,
  type PgCluster,
  tasksInsertSql,
} from './pg-seed.ts';
import { REPO_ROOT } from './procs.ts';
import { firstMigrationFolder } from './seed-bulk.ts';

/**
 * The fast path to a large PostgreSQL bench database (`--rows 10M`), made the way an old database
 * meets new migrations, as seed-bulk.ts does on SQLite: only the first migration (the tables) is
 * applied, seed.ts's tasks go in with no trigger and no secondary index, the indexes are built once,
 * and then every later migration runs as on a database that already holds rows: each backfills its
 * rollups set-based and installs the triggers that keep them. So the counters, buckets, blocks and
 * filter counts come from the migrations' own SQL (tests/integration/pg-bulk-seed.test.ts checks
 * they equal the trigger-built ones). The result is kept as a `pg_dump -Fc` under
 * .tmp/bench-cache, keyed by the migrations, these seed files and the size; a later run restores it.
 */

const CACHE_DIR = join(REPO_ROOT, '.tmp/bench-cache');
const BATCH = 500_000;

function pgBin(tool: string): string {
  const versions = readdirSync('/usr/lib/postgresql').sort((a, b) => Number(a) - Number(b));
  return join('/usr/lib/postgresql', versions[versions.length - 1] ?? '15', 'bin', tool);
}

function cacheKey(total: number): string {
  const h = createHash('sha256');
  for (const f of readdirSync(PG_MIGRATIONS_FOLDER).sort())
    if (f.endsWith('.sql')) h.update(readFileSync(join(PG_MIGRATIONS_FOLDER, f)));
  for (const f of ['pg-bulk-seed.ts', 'pg-seed.ts', 'seed.ts']) h.update(readFileSync(join(import.meta.dir, f)));
  h.update(String(total));
  return h.digest('hex').slice(0, 16);
}

function run(cmd: string[]): void {
  const r = Bun.spawnSync(cmd, { stdout: 'pipe', stderr: 'pipe' });
  if (r.exitCode !== 0)
    throw new Error(`${cmd[0]} failed: ${r.stderr.toString().trim().split('\n').slice(-3).join(' | ')}`);
}

/** Writes seed.ts's `total` tasks into a database that has only the first migration. */
export async function bulkTasks(url: string, total: number): Promise<void> {
  const sql = connect(url);
  const first = firstMigrationFolder(PG_MIGRATIONS_FOLDER);
  try {
    await migrate(drizzle({ client: sql }), { migrationsFolder: first.dir });
    const triggers = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM pg_trigger
      WHERE tgrelid = 'tasks'::regclass AND NOT tgisinternal`;
    if (triggers[0]?.n)
      throw new Error('the first migration already has task triggers: the bulk seed cannot skip them');
    const indexes = await sql<{ name: string; def: string }[]>`SELECT indexname AS name, indexdef AS def
      FROM pg_indexes WHERE tablename = 'tasks' AND indexname NOT IN (
        SELECT conname FROM pg_constraint WHERE conrelid = 'tasks'::regclass)`;
    for (const { name } of indexes) await sql.unsafe(`DROP INDEX "${name}"`);
    for (let from = 0; from < total; from += BATCH) {
      const to = Math.min(total, from + BATCH);
      await sql.unsafe(tasksInsertSql(from, to - 1));
      progress(`pg: bulk seed ${fmtCount(to)} of ${fmtCount(total)} tasks`);
    }
    const t0 = performance.now();
    for (const { def } of indexes) await sql.unsafe(def);
    progress(
      `pg: ${indexes.length} indexes of the first migration built in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
  } finally {
    first.cleanup();
    await sql.end();
  }
}

/** Database `name` holding seed.ts's `total` tasks and the bench accounts, from the cache when it has it. */
export async function bulkPgDatabase(cluster: PgCluster, name: string, total: number): Promise<string> {
  mkdirSync(CACHE_DIR, { recursive: true });
  const dump = join(CACHE_DIR, `pg-${fmtCount(total).replaceAll(',', '_')}-${cacheKey(total)}.dump`);
  const t0 = performance.now();
  if (existsSync(dump)) {
    const url = await emptyPgDatabase(cluster, name);
    progress(`pg: restoring ${fmtCount(total)} tasks from ${dump}`);
    run([pgBin('pg_restore'), '-j', '2', '-d', url, dump]);
    const sql = connect(url);
    try {
      await sql.unsafe('ANALYZE');
      await checkPgCounters(sql, total);
    } finally {
      await sql.end();
    }
    progress(`pg: restored in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    return url;
  }
  const url = await createPgDatabase(cluster, name, [], async (empty) => {
    await bulkTasks(empty, total);
    progress('pg: bulk seed: the later migrations backfill the rollups');
  });
  const sql = connect(url);
  try {
    await sql.unsafe('VACUUM ANALYZE');
    await checkPgCounters(sql, total);
  } finally {
    await sql.end();
  }
  progress(`pg: bulk seed of ${fmtCount(total)} tasks in ${((performance.now() - t0) / 1000).toFixed(1)} s; caching`);
  rmSync(`${dump}.part`, { force: true });
  run([pgBin('pg_dump'), '-Fc', '-Z', '1', '-f', `${dump}.part`, url]);
  renameSync(`${dump}.part`, dump);
  return url;
}
