import type { Database } from 'bun:sqlite';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { openDatabase } from '../../src/db/client.ts';
import { referenceText, splitButtons } from '../../src/db/sqlite/button-sets.ts';
import { fmtCount, progress } from './log.ts';
import { REPO_ROOT } from './procs.ts';
import { bulkSeed } from './seed-bulk.ts';

/**
 * Seeded SQLite files for the bench, made through the real migrations: the rows first, then the
 * migrations that backfill every rollup from them (seed-bulk.ts), which is what production does
 * with an existing file. Files are cached (cacheDir()), keyed by size, a hash of drizzle/ and the
 * seed's version: a changed migration set means a fresh seed.
 */

export const BENCH_DIR = join(REPO_ROOT, '.tmp/bench');
export const ROOT_TOKEN = 'bench-root-access-token-000000000000000000';
/** User 2 owns half of all tasks: the "one user's listing" of the measures. */
export const HEAVY_USER = { id: 2, token: 'bench-heavy-access-token-00000000000000000' } as const;
/** Relay API key (without `sk-`) of the heavy user; 48 alphanumerics like real keys. */
export const HEAVY_API_KEY = 'benchkey000000000000000000000000000000000000000a';
export const OTHER_USERS = 8;
export const CHANNELS = 4;
export const T0 = 1_700_000_000_000;
/** Average spacing of submit times: the same density at every size, so a time window holds the same rows. */
export const SPACING_MS = 30_000;
const BATCH = 50_000;

/** Hash of the SQLite migration set (file names and contents). */
export function migrationsHash(): string {
  const dir = join(REPO_ROOT, 'drizzle');
  const files: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      // drizzle/pg is PostgreSQL's: a change there leaves a SQLite seed as it is.
      if (statSync(p).isDirectory()) {
        if (p !== join(dir, 'pg')) walk(p);
      } else files.push(p);
    }
  };
  walk(dir);
  const h = new Bun.CryptoHasher('sha256');
  for (const f of files) {
    h.update(f.slice(dir.length));
    h.update(readFileSync(f));
  }
  return h.digest('hex').slice(0, 12);
}

/** submit_time of row i (0-based): increasing on average, ±60 s of disorder. */
export function submitTimeOf(i: number): number {
  const jitter = ((i * 2654435761) % 120_001) - 60_000;
  return T0 + i * SPACING_MS + jitter;
}

export function mjIdOf(i: number): string {
  return String(1_000_000_000_000_000 + i * 7);
}

export function userOf(i: number): number {
  return i % 2 === 0 ? HEAVY_USER.id : 3 + ((i >> 1) % OTHER_USERS);
}

export function channelOf(i: number): number {
  return 1 + ((i >> 1) % CHANNELS);
}

/** The upstream's job hash of row i: UUID-shaped hex, one per task as upstream gives it. */
export function jobHashOf(i: number): string {
  const h = (i * 2654435761 + 0x9e3779b9).toString(16).padStart(12, '0').slice(-12);
  return `0f1e2d3c-4b5a-6978-8796-${h}`;
}

/** Row i's buttons as the upstream sends them (a grid set). */
export function buttonsTextOf(i: number): string {
  const hash = jobHashOf(i);
  return JSON.stringify(
    ['U1', 'U2', 'U3', 'U4', '🔄', 'V1', 'V2', 'V3', 'V4'].map((label, k) => ({
      customId: `MJ::JOB::${k < 4 ? 'upsample' : k === 4 ? 'reroll' : 'variation'}::${(k % 4) + 1}::${hash}`,
      emoji: '',
      label,
      type: 2,
      style: 2,
    })),
  );
}

/**
 * The grid set's template (src/db/sqlite/button-sets.ts) as the poller would add it on the first
 * such write, and each row's buttons as the poller stores them: the compact reference, which
 * reads back as buttonsTextOf(i). Both seeds write the template with seedAccounts.
 */
const SEED_BUTTON_SET = 1;
const SEED_TEMPLATE = (() => {
  const split = splitButtons(buttonsTextOf(0));
  if (!split || split.job !== jobHashOf(0)) throw new Error('the seeded buttons no longer make a template');
  return split.body;
})();
function storedButtonsOf(i: number): string {
  return referenceText(SEED_BUTTON_SET, jobHashOf(i));
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

/** Users, tokens and channels, and the seeded rows' button template: the part of a bench database that is not tasks. */
export function seedAccounts(sqlite: Database, now: number, channelUrls: readonly string[] = []): void {
  sqlite.run('INSERT OR IGNORE INTO button_sets (id, body) VALUES (?, ?)', [SEED_BUTTON_SET, SEED_TEMPLATE]);
  sqlite.run(
    `INSERT OR IGNORE INTO users (id, username, display_name, role, status, access_token, quota, created_time)
    VALUES (1, 'root', 'Root', 100, 1, ?, 0, ?)`,
    [ROOT_TOKEN, now],
  );
  sqlite.run(
    `INSERT OR IGNORE INTO users (id, username, display_name, role, status, access_token, quota, created_time)
    VALUES (?, 'heavy', 'Heavy user', 1, 1, ?, 1000000000000000, ?)`,
    [HEAVY_USER.id, HEAVY_USER.token, now],
  );
  for (let u = 0; u < OTHER_USERS; u++) {
    sqlite.run(
      `INSERT OR IGNORE INTO users (id, username, role, status, access_token, quota, created_time)
      VALUES (?, ?, 1, 1, ?, 0, ?)`,
      [3 + u, `user${3 + u}`, `bench-user-${3 + u}-token-000000000000000000`, now],
    );
  }
  sqlite.run(
    `INSERT OR IGNORE INTO tokens (id, user_id, name, key, status, remain_quota, unlimited_quota, expired_time, created_time)
    VALUES (1, ?, 'bench', ?, 1, 1000000000000000, 0, -1, ?)`,
    [HEAVY_USER.id, HEAVY_API_KEY, now],
  );
  for (let c = 1; c <= CHANNELS; c++) {
    const url = channelUrls[c - 1] ?? `http://127.0.0.1:9/channel-${c}`;
    sqlite.run(
      `INSERT INTO channels (id, name, base_url, key, status, priority, weight, created_time) VALUES (?, ?, ?, 'sim-secret', 1, 0, 1, ?)
      ON CONFLICT (id) DO UPDATE SET base_url = excluded.base_url`,
      [c, `sim-${c}`, url, now],
    );
  }
}

/** Inserts seeded rows [from, to) with one prepared statement (the caller holds the transaction). */
export function taskInserter(sqlite: Database): (from: number, to: number) => void {
  const insert =
    sqlite.prepare(`INSERT INTO tasks (user_id, token_id, channel_id, code, action, mj_id, prompt, prompt_en,
    description, submit_time, start_time, finish_time, image_url, status, progress, fail_reason, quota, buttons, properties, updated_time)
    VALUES (?, ?, ?, 1, 'IMAGINE', ?, ?, ?, 'Submit success', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  return (from, to) => {
    for (let i = from; i < to; i++) {
      const user = userOf(i);
      const submit = submitTimeOf(i);
      const prompt = `${WORDS[i % 12]} ${WORDS[(i >> 3) % 12]} ${WORDS[(i >> 6) % 12]} at dusk, highly detailed --v 6 #${i}`;
      const unfinished = i % 100 === 99;
      const failed = !unfinished && i % 50 === 17;
      const mjId = mjIdOf(i);
      insert.run(
        user,
        user === HEAVY_USER.id ? 1 : 0,
        channelOf(i),
        mjId,
        prompt,
        prompt,
        submit,
        submit + 2_000,
        unfinished ? 0 : submit + 40_000,
        failed ? '' : `https://cdn.example.com/attachments/${mjId}/grid_0.png`,
        unfinished ? 'IN_PROGRESS' : failed ? 'FAILURE' : 'SUCCESS',
        unfinished ? '45%' : '100%',
        failed ? 'Banned prompt detected' : '',
        failed ? 0 : 50_000,
        unfinished || failed ? '' : storedButtonsOf(i),
        failed ? '' : `{"finalPrompt":"${prompt}"}`,
        submit + 40_000,
      );
    }
  };
}

/** Progress of a long seed on stderr: share done, rows/s and time left, about every 10 %. */
export function seedProgress(label: string, total: number): (done: number) => void {
  const t0 = performance.now();
  let lastPct = -1;
  return (done) => {
    const pct = Math.floor((done / total) * 100);
    if (pct < lastPct + 10 && done < total) return;
    lastPct = pct;
    const s = (performance.now() - t0) / 1000;
    const rate = done / Math.max(s, 1e-3);
    progress(
      `${label} ${fmtCount(total)} tasks… ${pct}% (${fmtCount(Math.round(rate))} rows/s, ${done < total ? `~${Math.ceil((total - done) / rate)} s left` : `${s.toFixed(1)} s`})`,
    );
  };
}

/**
 * The slow way, row by row through every trigger and index as production writes them. Kept as
 * the reference the bulk seed (seed-bulk.ts) is checked against in tests/unit/bench-seed.test.ts.
 */
export function seedTasksThroughTriggers(sqlite: Database, total: number): void {
  const insert = taskInserter(sqlite);
  const batch = sqlite.transaction((from: number, to: number) => insert(from, to));
  const report = seedProgress('seeding (through triggers)', total);
  for (let from = 0; from < total; from += BATCH) {
    const to = Math.min(total, from + BATCH);
    batch(from, to);
    report(to);
  }
}

/** The trigger-maintained counters must agree with the rows, or the listing totals are wrong. */
export function checkCounters(sqlite: Database, total: number): void {
  const all = sqlite
    .query<{ count: number }, []>(`SELECT count FROM task_counters WHERE scope = 'all' AND scope_id = 0`)
    .get();
  const heavy = sqlite
    .query<{ count: number }, [number]>(`SELECT count FROM task_counters WHERE scope = 'user' AND scope_id = ?`)
    .get(HEAVY_USER.id);
  const heavyRows = Math.ceil(total / 2);
  if (all?.count !== total || heavy?.count !== heavyRows) {
    throw new Error(
      `task_counters disagree with the rows: all=${all?.count} (want ${total}), user ${HEAVY_USER.id}=${heavy?.count} (want ${heavyRows})`,
    );
  }
}

/**
 * Where seeded files are cached: `.tmp/bench/` of the checkout (gitignored), or MJ_BENCH_CACHE
 * (several checkouts can share one cache; the file names carry the migrations' hash).
 */
export function cacheDir(): string {
  return process.env.MJ_BENCH_CACHE || BENCH_DIR;
}

/** Bumped when the seeded rows or the page size change, so a cached file of the old rows is not reused. */
const SEED_VERSION = 4;

/** Path of a seeded listing database with `total` tasks, seeding it unless a cached one exists. */
export function seededDatabase(total: number): string {
  const dir = cacheDir();
  mkdirSync(dir, { recursive: true });
  const hash = migrationsHash();
  const name = `sqlite-${total}-${hash}-s${SEED_VERSION}.db`;
  const path = join(dir, name);
  for (const f of readdirSync(dir)) {
    if (f.startsWith(`sqlite-${total}-`) && !f.startsWith(name)) rmSync(join(dir, f), { force: true });
  }
  if (existsSync(path)) {
    progress(`reusing ${name} (${fmtCount(total)} tasks, migrations ${hash})`);
    return path;
  }
  const partial = `${path}.partial`;
  for (const ext of ['', '-wal', '-shm']) rmSync(partial + ext, { force: true });
  const started = performance.now();
  const cpu0 = process.cpuUsage();
  bulkSeed(partial, total);
  const db = openDatabase(partial);
  const sqlite = db.$client;
  seedAccounts(sqlite, T0);
  checkCounters(sqlite, total);
  sqlite.exec('PRAGMA wal_checkpoint(TRUNCATE);');
  sqlite.close();
  for (const ext of ['-wal', '-shm']) rmSync(partial + ext, { force: true });
  renameSync(partial, path);
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpu0);
  // CPU time too: on a shared machine the wall time says more about the neighbours than the seed.
  progress(
    `seeded ${fmtCount(total)} tasks in ${seconds.toFixed(1)} s (${fmtCount(Math.round(total / seconds))} rows/s; ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s of CPU) → ${join(dir, name)}`,
  );
  return path;
}

/** A fresh migrated database with accounts only (submit, image and poller measures write to it). */
export function freshDatabase(dir: string, name: string, channelUrls: readonly string[]): string {
  const path = join(dir, `${name}.db`);
  for (const ext of ['', '-wal', '-shm']) rmSync(path + ext, { force: true });
  const db = openDatabase(path);
  seedAccounts(db.$client, Date.now(), channelUrls);
  // Everything into the main file, so a plain file copy carries it.
  db.$client.exec('PRAGMA wal_checkpoint(TRUNCATE);');
  db.$client.close();
  return path;
}

export function copyDatabase(from: string, to: string): string {
  for (const ext of ['', '-wal', '-shm']) rmSync(to + ext, { force: true });
  copyFileSync(from, to);
  return to;
}
