import { Database } from 'bun:sqlite';
import { join } from 'node:path';
import type { BenchContext } from '../context.ts';
import { cpuTimes } from '../cpu.ts';
import { bestLatencies, bestRates, type Exchange, getter, poster, runLoad } from '../load.ts';
import { fmtCount, progress } from '../log.ts';
import { bulkPgDatabase } from '../pg-bulk-seed.ts';
import {
  connect,
  createPgDatabase,
  otherApiKey,
  pgCluster,
  pgRangeCount,
  SUBMIT_KEYS,
  seedPgTasks,
} from '../pg-seed.ts';
import { type Child, spawnProduct, spawnSimulator } from '../procs.ts';
import type { Measurement } from '../report.ts';
import { freshDatabase, HEAVY_API_KEY, OTHER_USERS, ROOT_TOKEN } from '../seed.ts';
import { pgCpuRows } from './pg-cpu.ts';
import { deepShapes, filterShapes, rangeShapes, type Shape } from './shapes.ts';

/**
 * PostgreSQL rows of SPEC §12 (§13): listing page 1 at the large size vs the small one, a time
 * range alone and a deep page vs page 1, and relay submit throughput of three replicas sharing
 * one database vs one replica (plus one PostgreSQL replica vs one SQLite product, for context).
 */

const SECRET = 'sim-secret';
/** Listing sizes above this are seeded by pg-bulk-seed.ts (rows first, rollups by the migrations, cached). */
const BULK_FROM = 100_000;

function pgRow(ctx: BenchContext, m: Omit<Measurement, 'backend'>): Measurement {
  return { ...ctx.measurement(m), backend: 'postgres' };
}

function pgProduct(ctx: BenchContext, name: string, url: string): Promise<Child> {
  return spawnProduct({
    name,
    databasePath: join(ctx.runDir, `${name}.unused.db`),
    rootToken: ROOT_TOKEN,
    imageCacheDir: join(ctx.runDir, `images-${name}`),
    extraEnv: { DATABASE_URL: url, DATABASE_POOL_SIZE: '10' },
  }).then((c) => ctx.own(c));
}

/** The product on a seeded PostgreSQL database of `size` tasks (with the database URL). */
function listingProduct(ctx: BenchContext, size: number): Promise<{ product: Child; url: string }> {
  return ctx.once(`pg-listing-${size}`, async () => {
    const cluster = await pgCluster(ctx);
    // Large sizes take the bulk path (cached between runs); the small one goes through the triggers.
    const url =
      size > BULK_FROM
        ? await bulkPgDatabase(cluster, `bench_${size}`, size)
        : await createPgDatabase(cluster, `bench_${size}`);
    if (size <= BULK_FROM) await seedPgTasks(url, size);
    progress(`pg: starting the product on ${fmtCount(size)} tasks`);
    return { product: await pgProduct(ctx, `pg-product-${size}`, url), url };
  });
}

/** Fails loudly unless the product answers a full page of the right total. */
async function checked(product: Child, url: string, shape: Shape): Promise<Exchange> {
  const res = await fetch(product.url + shape.path, { headers: shape.headers });
  const body = (await res.json()) as {
    success?: boolean;
    message?: string;
    data?: { total?: number; items?: unknown[] };
  };
  if (res.status !== 200 || body.success !== true)
    throw new Error(`${shape.path}: HTTP ${res.status} ${body.message ?? ''}`);
  const q = new URL(shape.path, 'http://x').searchParams;
  const page = Number(q.get('p') ?? 1);
  const total = body.data?.total ?? -1;
  const want = Math.max(0, Math.min(20, total - (page - 1) * 20));
  if (body.data?.items?.length !== want)
    throw new Error(`${shape.path}: ${body.data?.items?.length} items on a page of ${total} (want ${want})`);
  if (shape.range) {
    const n = await pgRangeCount(url, shape.range.start, shape.range.end, shape.range.userId);
    if (total !== n) throw new Error(`${shape.path}: total ${total}, the table holds ${n}`);
  }
  return getter(product.url + shape.path, shape.headers);
}

async function listingRows(ctx: BenchContext): Promise<Measurement[]> {
  const { large, small, rounds, latencyCount, latencyMs } = ctx.settings;
  const big = await listingProduct(ctx, large);
  const little = await listingProduct(ctx, small);
  const compare = (ex: Exchange[]) =>
    bestLatencies(ex, rounds, { maxCount: latencyCount, maxMs: latencyMs, minCount: 3 });
  const out: Measurement[] = [];
  const counted = (id: string) => id.includes('status') || id.includes('action');
  const pages = filterShapes(large).filter((s) => s.id === 'self' || s.id === 'all' || counted(s.id));
  for (const shape of pages) {
    progress(`pg: listing ${shape.label}: ${fmtCount(large)} vs ${fmtCount(small)} tasks`);
    const [atLarge = NaN, atSmall = NaN] = await compare([
      await checked(big.product, big.url, shape),
      await checked(little.product, little.url, shape),
    ]);
    out.push(
      pgRow(ctx, {
        id: `pg.listing.${shape.id}`,
        label: `${shape.label} at ${fmtCount(large)}`,
        product: atLarge,
        baseline: atSmall,
        unit: 'ms',
        baselineLabel: `at ${fmtCount(small)}`,
        goal: { kind: 'ratio-max', value: 1.5 },
      }),
    );
  }
  const first = pages.find((s) => s.id === 'all');
  const range = rangeShapes(large).find((s) => s.id === 'range.middle');
  const deep = deepShapes().find((d) => d.deep.id === 'deep.all')?.deep;
  if (!first || !range || !deep) throw new Error('missing listing shapes');
  progress(`pg: time range alone and p=2000 vs page 1 at ${fmtCount(large)}`);
  const [firstMs = NaN, rangeMs = NaN, deepMs = NaN] = await compare([
    await checked(big.product, big.url, first),
    await checked(big.product, big.url, range),
    await checked(big.product, big.url, deep),
  ]);
  out.push(
    pgRow(ctx, {
      id: `pg.listing.${range.id}`,
      label: `${range.label} (with total) at ${fmtCount(large)}`,
      product: rangeMs,
      baseline: firstMs,
      unit: 'ms',
      baselineLabel: 'page 1',
      goal: { kind: 'ratio-max', value: 2 },
    }),
  );
  out.push(
    pgRow(ctx, {
      id: `pg.listing.${deep.id}`,
      label: `${deep.label} at ${fmtCount(large)}`,
      product: deepMs,
      baseline: firstMs,
      unit: 'ms',
      baselineLabel: 'page 1',
      goal: { kind: 'ratio-max', value: 5 },
    }),
  );
  out.push(pgRow(ctx, await sizePerTask(big.url, large)));
  return out;
}

/** Bytes of the database per task at the large size, with what takes them (tables with their TOAST, indexes). */
async function sizePerTask(url: string, tasks: number): Promise<Omit<Measurement, 'backend'>> {
  const sql = connect(url);
  try {
    const [db] = await sql<{ bytes: number }[]>`SELECT pg_database_size(current_database())::float8 AS bytes`;
    const parts = await sql<{ name: string; bytes: number }[]>`
      SELECT c.relname AS name, pg_table_size(c.oid)::float8 AS bytes
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND c.relkind IN ('r', 'i') ORDER BY 2 DESC LIMIT 8`;
    const per = (b: number) => `${fmtCount(Math.round(b / tasks))} B`;
    return {
      id: 'pg.storage.bytes-per-task',
      label: `PostgreSQL database bytes per task at ${fmtCount(tasks)}`,
      product: (db?.bytes ?? Number.NaN) / tasks,
      baseline: null,
      unit: 'B',
      baselineLabel: '',
      goal: { kind: 'info' },
      note: `largest relations per task: ${parts.map((p) => `${p.name} ${per(p.bytes)}`).join(', ')}`,
    };
  } finally {
    await sql.end();
  }
}

let seq = 0;
const body = () => ({ prompt: `a lighthouse in a storm, oil painting #${seq++}` });

/** Submits spread round-robin over several replicas and several users' keys. */
function roundRobin(urls: readonly string[], keys: readonly string[]): Exchange {
  const exchanges = urls.flatMap((u) =>
    keys.map((k) => poster(`${u}/mj/submit/imagine`, { authorization: `Bearer sk-${k}` }, body)),
  );
  let k = 0;
  return () => (exchanges[k++ % exchanges.length] as Exchange)();
}

/** The other users' keys, funded, in the SQLite comparison database too. */
export function fundSqliteKeys(path: string): void {
  const db = new Database(path);
  try {
    for (let u = 0; u < OTHER_USERS; u++) {
      db.run('UPDATE users SET quota = 1000000000000000 WHERE id = ?', [3 + u]);
      db.run(
        `INSERT INTO tokens (id, user_id, name, key, status, remain_quota, unlimited_quota, expired_time, created_time)
        VALUES (?, ?, 'bench', ?, 1, 1000000000000000, 0, -1, ?)`,
        [2 + u, 3 + u, otherApiKey(u), Date.now()],
      );
    }
  } finally {
    db.close();
  }
}

async function submitRows(ctx: BenchContext): Promise<Measurement[]> {
  const cluster = await pgCluster(ctx);
  progress('pg: submit: starting simulator, 3 PostgreSQL replicas, 1 PostgreSQL replica and 1 SQLite product');
  const sim = ctx.own(await spawnSimulator('sim-pg-submit', SECRET));
  const channels = [sim.url, sim.url, sim.url, sim.url];
  // Each configuration has its own database, so one's rows never slow the other.
  const shared = await createPgDatabase(cluster, 'bench_submit_3', channels);
  const single = await createPgDatabase(cluster, 'bench_submit_1', channels);
  const replicas = await Promise.all([0, 1, 2].map((i) => pgProduct(ctx, `pg-replica-${i}`, shared)));
  const one = await pgProduct(ctx, 'pg-single', single);
  const sqlitePath = freshDatabase(ctx.runDir, 'pg-cmp-sqlite', channels);
  fundSqliteKeys(sqlitePath);
  const lite = ctx.own(
    await spawnProduct({
      name: 'sqlite-cmp',
      databasePath: sqlitePath,
      rootToken: ROOT_TOKEN,
      imageCacheDir: join(ctx.runDir, 'images-sqlite-cmp'),
    }),
  );
  const { concurrency, loadMs, rounds } = ctx.settings;
  const users = SUBMIT_KEYS.length;
  const names = [
    `3 pg replicas, ${users} users`,
    `1 pg replica, ${users} users`,
    `1 sqlite product, ${users} users`,
    '3 pg replicas, 1 user',
    '1 pg replica, 1 user',
  ];
  const urls3 = replicas.map((r) => r.url);
  const exchanges = [
    roundRobin(urls3, SUBMIT_KEYS),
    roundRobin([one.url], SUBMIT_KEYS),
    roundRobin([lite.url], SUBMIT_KEYS),
    roundRobin(urls3, [HEAVY_API_KEY]),
    roundRobin([one.url], [HEAVY_API_KEY]),
  ];
  for (const ex of exchanges) await runLoad(ex, { concurrency, durationMs: 300, maxCount: 5_000 });
  progress(`pg: submit throughput, ${concurrency} clients`);
  const cpu0 = cpuTimes();
  const [three, single1, sqlite1, threeHot, singleHot] = await bestRates(
    exchanges,
    rounds,
    { concurrency, durationMs: loadMs, maxCount: 100_000 },
    (i, res) => {
      progress(
        `  ${names[i]}: ${fmtCount(res.count)} submits in ${(res.elapsedMs / 1000).toFixed(1)} s → ${fmtCount(Math.round(res.rate))}/s`,
      );
    },
  );
  if (!three || !single1 || !sqlite1 || !threeHot || !singleHot) throw new Error('missing load result');
  const cpu1 = cpuTimes();
  const busyPct = Math.round(((cpu1.busy - cpu0.busy) / (cpu1.total - cpu0.total)) * 100);
  return [
    pgRow(ctx, {
      id: 'pg.submit.replicas',
      label: `relay submit throughput, 3 replicas round-robin, ${users} users (${concurrency} clients)`,
      product: three.rate,
      baseline: single1.rate,
      unit: 'req/s',
      baselineLabel: '1 replica, same PostgreSQL server',
      goal: { kind: 'ratio-min', value: 2 },
      note: `CPUs ${busyPct}% busy over the submit rounds: on this ${navigator.hardwareConcurrency}-core machine the 3 replicas share the same cores with PostgreSQL, the simulator and the load generator, so this ratio is bounded by the machine, not by the database`,
    }),
    pgRow(ctx, {
      id: 'pg.submit.replicas.one-user',
      label: `relay submit throughput, 3 replicas round-robin, 1 user (${concurrency} clients)`,
      product: threeHot.rate,
      baseline: singleHot.rate,
      unit: 'req/s',
      baselineLabel: '1 replica, 1 user',
      goal: { kind: 'info' },
      note: "all submits charge the same user and token rows (SQLite's submit row uses this one key)",
    }),
    pgRow(ctx, {
      id: 'pg.submit.vs-sqlite',
      label: `relay submit throughput, 1 PostgreSQL replica, ${users} users (${concurrency} clients)`,
      product: single1.rate,
      baseline: sqlite1.rate,
      unit: 'req/s',
      baselineLabel: '1 product on SQLite',
      goal: { kind: 'ratio-min', value: 0.6 },
    }),
    ...(await pgCpuRows(
      ctx,
      cluster,
      { child: one, submit: roundRobin([one.url], SUBMIT_KEYS) },
      { child: lite, submit: roundRobin([lite.url], SUBMIT_KEYS) },
      users,
    )),
  ];
}

export async function pgMeasures(ctx: BenchContext): Promise<Measurement[]> {
  return [...(await listingRows(ctx)), ...(await submitRows(ctx))];
}
