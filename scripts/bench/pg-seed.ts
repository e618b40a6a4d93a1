import postgres, { type Sql } from 'postgres';
import { openPgDatabase } from '../../src/db/pg/client.ts';
import type { BenchContext } from './context.ts';
import { fmtCount, progress } from './log.ts';
import { type Child, REPO_ROOT } from './procs.ts';
import { CHANNELS, HEAVY_API_KEY, HEAVY_USER, OTHER_USERS, ROOT_TOKEN, SPACING_MS, T0 } from './seed.ts';

/** Relay key (without `sk-`) of other user `u` (0-based), 48 alphanumerics; funded in submit databases. */
export function otherApiKey(u: number): string {
  return `benchkey${'0'.repeat(39)}${String.fromCharCode(98 + u)}`;
}

/** Every funded relay key of a submit database: the heavy user's, then one per other user. */
export const SUBMIT_KEYS: readonly string[] = [
  HEAVY_API_KEY,
  ...Array.from({ length: OTHER_USERS }, (_, u) => otherApiKey(u)),
];
const FUNDS = 1_000_000_000_000_000;

/**
 * PostgreSQL for the bench (SPEC §12, §13): a private cluster (scripts/pg-cluster.sh) for the run,
 * one database per use, migrated by the product's own migrator and seeded with set-based inserts
 * through the real triggers, with the same rows, users and tokens as the SQLite seed (seed.ts).
 */

export interface PgCluster {
  dir: string;
  /** URL of the cluster's `postgres` database; databaseUrl() derives the others. */
  url: string;
}

let stopSync: (() => void) | null = null;
// The bench can end in any way (error, Ctrl-C → process.exit in procs.ts): the cluster goes with it.
process.on('exit', () => stopSync?.());

function clusterScript(args: string[]): string {
  const r = Bun.spawnSync(['bash', 'scripts/pg-cluster.sh', ...args], {
    cwd: REPO_ROOT,
    stdout: 'pipe',
    stderr: 'pipe',
  });
  if (r.exitCode !== 0)
    throw new Error(`pg-cluster.sh ${args[0]} failed: ${r.stderr.toString().trim().split('\n').slice(-3).join(' | ')}`);
  return r.stdout.toString();
}

/** The run's cluster, started once and stopped by ctx.close() (or at exit). */
export function pgCluster(ctx: BenchContext): Promise<PgCluster> {
  return ctx.once('pg-cluster', async () => {
    progress('pg: starting a private PostgreSQL cluster (scripts/pg-cluster.sh)');
    const out = clusterScript(['start']);
    const dir = /^PGDIR=(.+)$/m.exec(out)?.[1];
    const url = /^DATABASE_URL=(.+)$/m.exec(out)?.[1];
    if (!dir || !url) throw new Error(`pg-cluster.sh start printed no PGDIR/DATABASE_URL: ${out}`);
    stopSync = () => {
      stopSync = null;
      try {
        clusterScript(['stop', dir]);
      } catch {
        // best effort at exit
      }
    };
    const handle: Child = { name: 'postgres', pid: 0, url, rssMb: () => Number.NaN, stop: async () => stopSync?.() };
    ctx.own(handle);
    return { dir, url };
  });
}

export function databaseUrl(cluster: PgCluster, name: string): string {
  const u = new URL(cluster.url);
  u.pathname = `/${name}`;
  return u.toString();
}

export function connect(url: string): Sql {
  return postgres(url, { max: 1, onnotice: () => {} });
}

/** Database `name` made anew, empty (dropped first if it was there); returns its URL. */
export async function emptyPgDatabase(cluster: PgCluster, name: string): Promise<string> {
  const admin = connect(cluster.url);
  try {
    await admin.unsafe(`DROP DATABASE IF EXISTS ${name}`);
    await admin.unsafe(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  return databaseUrl(cluster, name);
}

/**
 * A new migrated database `name` with accounts and channels, as seedAccounts does on SQLite;
 * `beforeMigrate` runs on the empty database first (the bulk seed's first migration and rows).
 */
export async function createPgDatabase(
  cluster: PgCluster,
  name: string,
  channelUrls: readonly string[] = [],
  beforeMigrate?: (url: string) => Promise<void>,
): Promise<string> {
  const url = await emptyPgDatabase(cluster, name);
  await beforeMigrate?.(url);
  const db = await openPgDatabase(url, { poolSize: 1 });
  await db.$client.end();
  const sql = connect(url);
  try {
    const now = Date.now();
    await sql`INSERT INTO users (id, username, display_name, role, status, access_token, quota, created_time)
      VALUES (1, 'root', 'Root', 100, 1, ${ROOT_TOKEN}, 0, ${now}),
             (${HEAVY_USER.id}, 'heavy', 'Heavy user', 1, 1, ${HEAVY_USER.token}, 1000000000000000, ${now})`;
    for (let u = 0; u < OTHER_USERS; u++) {
      await sql`INSERT INTO users (id, username, role, status, access_token, quota, created_time)
        VALUES (${3 + u}, ${`user${3 + u}`}, 1, 1, ${`bench-user-${3 + u}-token-000000000000000000`}, ${FUNDS}, ${now})`;
      await sql`INSERT INTO tokens (id, user_id, name, key, status, remain_quota, unlimited_quota, expired_time, created_time)
        VALUES (${2 + u}, ${3 + u}, 'bench', ${otherApiKey(u)}, 1, ${FUNDS}, false, -1, ${now})`;
    }
    await sql`INSERT INTO tokens (id, user_id, name, key, status, remain_quota, unlimited_quota, expired_time, created_time)
      VALUES (1, ${HEAVY_USER.id}, 'bench', ${HEAVY_API_KEY}, 1, 1000000000000000, false, -1, ${now})`;
    for (let c = 1; c <= CHANNELS; c++) {
      await sql`INSERT INTO channels (id, name, base_url, key, status, priority, weight, created_time)
        VALUES (${c}, ${`sim-${c}`}, ${channelUrls[c - 1] ?? `http://127.0.0.1:9/channel-${c}`}, 'sim-secret', 1, 0, 1, ${now})`;
    }
    // Explicit ids above: the identity sequences must move past them for rows the product inserts.
    for (const t of ['users', 'tokens', 'channels'])
      await sql.unsafe(`SELECT setval(pg_get_serial_sequence('${t}', 'id'), (SELECT max(id) FROM ${t}))`);
  } finally {
    await sql.end();
  }
  return url;
}

const WORDS = [
  'misty',
  'harbor',
  'neon',
  'forest',
  'castle',
  'portrait',
  'desert',
  'ocean',
  'city',
  'robot',
  'garden',
  'winter',
];
const BATCH = 100_000;

/** The INSERT of seed.ts's tasks `from`..`to` (inclusive), set-based over generate_series. */
export function tasksInsertSql(from: number, to: number): string {
  const words = `(ARRAY[${WORDS.map((w) => `'${w}'`).join(',')}])`;
  return `
    WITH s AS (
      SELECT i::bigint AS i,
        ${T0}::bigint + i::bigint * ${SPACING_MS} + ((i::bigint * 2654435761) % 120001) - 60000 AS submit,
        (i % 100 = 99) AS unfinished,
        (i % 100 <> 99 AND i % 50 = 17) AS failed,
        (1000000000000000 + i::bigint * 7)::text AS mj,
        ${words}[i % 12 + 1] || ' ' || ${words}[(i >> 3) % 12 + 1] || ' ' || ${words}[(i >> 6) % 12 + 1]
          || ' at dusk, highly detailed --v 6 #' || i AS prompt
      FROM generate_series(${from}, ${to}) AS i)
    INSERT INTO tasks (user_id, token_id, channel_id, code, action, mj_id, prompt, prompt_en, description,
      submit_time, start_time, finish_time, image_url, status, progress, fail_reason, quota, buttons, properties, updated_time)
    SELECT CASE WHEN i % 2 = 0 THEN ${HEAVY_USER.id} ELSE 3 + ((i >> 1) % ${OTHER_USERS}) END,
      CASE WHEN i % 2 = 0 THEN 1 ELSE 0 END, 1 + ((i >> 1) % ${CHANNELS}), 1, 'IMAGINE', mj, prompt, prompt, 'Submit success',
      submit, submit + 2000, CASE WHEN unfinished THEN 0 ELSE submit + 40000 END,
      CASE WHEN failed THEN '' ELSE 'https://cdn.example.com/attachments/' || mj || '/grid_0.png' END,
      CASE WHEN unfinished THEN 'IN_PROGRESS' WHEN failed THEN 'FAILURE' ELSE 'SUCCESS' END,
      CASE WHEN unfinished THEN '45%' ELSE '100%' END,
      CASE WHEN failed THEN 'Banned prompt detected' ELSE '' END,
      CASE WHEN failed THEN 0 ELSE 50000 END,
      CASE WHEN unfinished OR failed THEN '' ELSE 'U1 U2 U3 U4' END,
      CASE WHEN failed THEN '' ELSE '{"finalPrompt":"' || prompt || '"}' END,
      submit + 40000
    FROM s`;
}

/** Fails unless the rollups count exactly `total` tasks. */
export async function checkPgCounters(sql: Sql, total: number): Promise<void> {
  const [row] = await sql<
    { n: number }[]
  >`SELECT coalesce(sum(count), 0)::int AS n FROM task_counters WHERE scope = 'all'`;
  if (row?.n !== total) throw new Error(`pg task_counters say ${row?.n} tasks, ${total} were inserted`);
}

/**
 * `total` tasks with the very rows of seed.ts (same users, channels, times, statuses), written by
 * INSERT … SELECT over generate_series in batches, so the counter and bucket triggers fire.
 */
export async function seedPgTasks(url: string, total: number): Promise<void> {
  const sql = connect(url);
  const started = performance.now();
  try {
    for (let from = 0; from < total; from += BATCH) {
      const to = Math.min(total, from + BATCH) - 1;
      await sql.unsafe(tasksInsertSql(from, to));
      progress(`pg: seeding ${fmtCount(total)} tasks… ${Math.round(((to + 1) / total) * 100)}%`);
    }
    await sql.unsafe('VACUUM ANALYZE');
    await checkPgCounters(sql, total);
  } finally {
    await sql.end();
  }
  progress(`pg: seeded ${fmtCount(total)} tasks in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

/** Rows in a submit-time window (optionally one user's): the total a range listing must answer. */
export async function pgRangeCount(url: string, start: number, end: number, userId?: number): Promise<number> {
  const sql = connect(url);
  try {
    const [row] =
      userId === undefined
        ? await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM tasks WHERE submit_time BETWEEN ${start} AND ${end}`
        : await sql<
            { n: number }[]
          >`SELECT count(*)::int AS n FROM tasks WHERE submit_time BETWEEN ${start} AND ${end} AND user_id = ${userId}`;
    return row?.n ?? -1;
  } finally {
    await sql.end();
  }
}
