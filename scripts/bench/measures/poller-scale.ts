import type { Database } from 'bun:sqlite';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openDatabase } from '../../../src/db/client.ts';
import { POLLER_LEASE } from '../../../src/domain/lease.ts';
import type { BenchContext } from '../context.ts';
import { cpuMsOf } from '../cpu.ts';
import { getter, openLoop, percentile, poster, type Timed } from '../load.ts';
import { fmtCount, progress } from '../log.ts';
import { type Child, spawnProduct, spawnSimulator } from '../procs.ts';
import type { Measurement } from '../report.ts';
import { HEAVY_API_KEY, HEAVY_USER, ROOT_TOKEN, seedAccounts } from '../seed.ts';
import { bulkMigrated } from '../seed-bulk.ts';
import { directCalls, submitAll } from './poller.ts';

/**
 * Poller at scale (issue 15 point 2; group poller-scale): one tick of the product's own poller
 * over N unfinished tasks on 20 channels (20 simulator processes), while relay submits arrive
 * at a steady rate and /healthz is probed. The bench holds the poller lease until the probes
 * run, then lets it go: the product takes it and ticks at once. The tick's length comes from
 * the product's /metrics, its upstream part is the same list-by-condition calls made directly.
 */

const SECRET = 'sim-secret';
const CHANNELS = 20;
const SUBMITS_PER_S = 20;

interface Sample {
  submits: Timed[];
  health: Timed[];
  rss: { at: number; mb: number }[];
}

/** CPU of a process's main thread (the event loop) so far, in ms (NaN when unreadable). */
function mainThreadCpuMs(pid: number): number {
  try {
    const text = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // utime + stime in clock ticks; USER_HZ is 100 on Linux.
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return Number.NaN;
  }
}

/** Sum and count of the tick histogram on /metrics (NaN while unreadable). */
async function tickMetric(product: Child): Promise<{ count: number; sumS: number }> {
  const text = await (await fetch(`${product.url}/metrics`)).text();
  const read = (suffix: string) =>
    Number(
      new RegExp(`^mjgw_poll_tick_duration_seconds_${suffix}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ??
        Number.NaN,
    );
  return { count: read('count'), sumS: read('sum') };
}

/** A migrated file with `ids[c]` unfinished on channel c + 1, in a state no upstream answer equals. */
function buildDatabase(path: string, sims: readonly Child[], ids: readonly string[][]): Database {
  bulkMigrated(path, (sqlite) => {
    const now = Date.now();
    const insert =
      sqlite.prepare(`INSERT INTO tasks (user_id, token_id, channel_id, action, mj_id, prompt, submit_time, progress, status, quota, updated_time)
      VALUES (?, 1, ?, 'IMAGINE', ?, 'poller bench task', ?, '0%', '', 50000, ?)`);
    sqlite.transaction(() =>
      ids.forEach((list, c) => {
        for (const id of list) insert.run(HEAVY_USER.id, c + 1, id, now, now);
      }),
    )();
  });
  const db = openDatabase(path).$client;
  seedAccounts(
    db,
    Date.now(),
    sims.map((s) => s.url),
  );
  for (let c = 5; c <= sims.length; c++) {
    db.run(
      `INSERT INTO channels (id, name, base_url, key, status, priority, weight, created_time) VALUES (?, ?, ?, ?, 1, 0, 1, ?)`,
      [c, `sim-${c}`, sims[c - 1]?.url ?? '', SECRET, Date.now()],
    );
  }
  // Held by the bench until the probes run; the product stays standby meanwhile.
  db.run('INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)', [
    POLLER_LEASE,
    'bench',
    Date.now() + 3_600_000,
  ]);
  db.exec('PRAGMA wal_checkpoint(TRUNCATE);');
  return db;
}

async function oneSize(
  ctx: BenchContext,
  sims: readonly Child[],
  allIds: readonly string[][],
  total: number,
): Promise<Measurement[]> {
  const per = Math.ceil(total / CHANNELS);
  const ids = allIds.map((list) => list.slice(0, per));
  const directs = [await directCalls(sims, ids), await directCalls(sims, ids)];
  const path = join(ctx.runDir, `poller-scale-${total}.db`);
  const db = buildDatabase(path, sims, ids);
  const product = await spawnProduct({
    name: `product-poller-${total}`,
    databasePath: path,
    rootToken: ROOT_TOKEN,
    imageCacheDir: join(ctx.runDir, `images-poller-${total}`),
    extraEnv: {
      UPDATE_TASK: 'true',
      POLL_INTERVAL_MS: '250',
      METRICS_PUBLIC: 'true',
      // A CPU profile of the product (written when it stops): POLLER_SCALE_PROFILE_DIR=/tmp/dir.
      ...(process.env.POLLER_SCALE_PROFILE_DIR
        ? {
            BUN_OPTIONS: `--cpu-prof-md --cpu-prof-dir=${process.env.POLLER_SCALE_PROFILE_DIR} --cpu-prof-name=product-${total}.md`,
          }
        : {}),
    },
  });
  try {
    const stop = Promise.withResolvers<void>();
    const sample: Sample = { submits: [], health: [], rss: [] };
    const submit = poster(`${product.url}/mj/submit/imagine`, { authorization: `Bearer sk-${HEAVY_API_KEY}` }, () => ({
      prompt: 'a harbour during a poller tick',
    }));
    const submits = openLoop(submit, SUBMITS_PER_S, stop.promise, 60_000);
    const health = openLoop(getter(`${product.url}/healthz`), 50, stop.promise, 60_000);
    const rss0 = product.rssMb();
    const rssTimer = setInterval(() => sample.rss.push({ at: performance.now(), mb: product.rssMb() }), 100);
    // The first second warms the product up; the two after it are the idle comparison.
    await Bun.sleep(1_000);
    const idleCpu0 = cpuMsOf(product.pid);
    const idleMain0 = mainThreadCpuMs(product.pid);
    await Bun.sleep(2_000);
    const released = performance.now();
    const idleCpu1 = cpuMsOf(product.pid);
    const idleMain1 = mainThreadCpuMs(product.pid);
    progress(`poller-scale: releasing the lease, ${fmtCount(total)} unfinished on ${CHANNELS} channels`);
    db.run('UPDATE leases SET expires_at = 0 WHERE name = ?', [POLLER_LEASE]);
    const deadline = performance.now() + 300_000;
    let metric = { count: 0, sumS: Number.NaN };
    // Scraped once a second: each scrape counts the unfinished tasks on the product's main thread
    // (about 15 ms at 100,000), which ten scrapes a second would add to the tick and its probes.
    while (!(metric.count >= 1) && performance.now() < deadline) {
      await Bun.sleep(1_000);
      metric = await tickMetric(product);
    }
    const detected = performance.now();
    const endCpu = cpuMsOf(product.pid);
    const endMain = mainThreadCpuMs(product.pid);
    stop.resolve();
    clearInterval(rssTimer);
    [sample.submits, sample.health] = await Promise.all([submits, health]);
    if (!(metric.count >= 1)) throw new Error('no poller tick finished within 300 s');
    const tickMs = metric.sumS * 1000;
    // The tick ended with its last write (updated_time, this machine's clock): the window of the
    // probes is the tick's length back from there, not from when the scrape noticed it.
    const lastWrite =
      db.query<{ t: number | null }, [number]>('SELECT max(updated_time) AS t FROM tasks WHERE id <= ?').get(total)
        ?.t ?? Date.now();
    const end = Math.min(detected, lastWrite - performance.timeOrigin);
    const start = end - tickMs;
    const left =
      db.query<{ n: number }, [number]>(`SELECT count(*) AS n FROM tasks WHERE id <= ? AND status = ''`).get(total)
        ?.n ?? -1;
    if (left !== 0) throw new Error(`the tick left ${left} of ${total} tasks unwritten`);
    const during = (xs: Timed[]) => xs.filter((t) => t.at >= start && t.at <= end);
    const before = (xs: Timed[]) => xs.filter((t) => t.at >= released - 2_000 && t.at < released);
    const failed = [...sample.submits, ...sample.health].filter((t) => t.status !== 200).length;
    const p99 = (xs: Timed[]) =>
      percentile(
        xs.map((t) => t.ms),
        99,
      );
    // The product's CPU during the tick less what the probes alone cost it (the 2 s before).
    const probeCpuPerMs = (idleCpu1 - idleCpu0) / 2_000;
    const tickCpuMs = endCpu - idleCpu1 - probeCpuPerMs * (detected - released);
    const cpuPerRowUs = (tickCpuMs * 1000) / total;
    const mainPerRowUs =
      ((endMain - idleMain1 - ((idleMain1 - idleMain0) / 2_000) * (detected - released)) * 1000) / total;
    const rssMax = Math.max(rss0, ...sample.rss.filter((r) => r.at >= start - 100).map((r) => r.mb));
    progress(
      `  tick ${tickMs.toFixed(0)} ms, direct ${Math.min(...directs).toFixed(0)} ms; ${during(sample.submits).length} submits and ${during(sample.health).length} /healthz during it; product CPU ${cpuPerRowUs.toFixed(1)} µs per row (main thread ${mainPerRowUs.toFixed(1)})`,
    );
    const label = `${fmtCount(total)} unfinished on ${CHANNELS} channels`;
    const ctxNote = `${SUBMITS_PER_S} submits/s and 50 /healthz/s arriving open-loop; ${failed} not answered 200`;
    return [
      ctx.measurement({
        id: `poller.tick.${total}`,
        label: `poller tick, ${label}`,
        product: tickMs,
        baseline: Math.min(...directs),
        unit: 'ms',
        baselineLabel: 'same list-by-condition calls direct',
        goal: { kind: 'affine-max', slope: 1.5, offset: 1_000 },
        note: `one tick of the product's poller (from /metrics); direct ${directs.map((d) => d.toFixed(0)).join(', ')} ms`,
      }),
      ctx.measurement({
        id: `poller.submit-p99.${total}`,
        label: `relay submit p99 during a tick, ${label}`,
        product: p99(during(sample.submits)),
        baseline: p99(before(sample.submits)),
        unit: 'ms',
        baselineLabel: '2 s before the tick',
        goal: { kind: 'max', value: 50 },
        note: ctxNote,
      }),
      ctx.measurement({
        id: `poller.healthz-p99.${total}`,
        label: `/healthz p99 during a tick, ${label}`,
        product: p99(during(sample.health)),
        baseline: p99(before(sample.health)),
        unit: 'ms',
        baselineLabel: '2 s before the tick',
        goal: { kind: 'max', value: 50 },
        note: ctxNote,
      }),
      ctx.measurement({
        id: `poller.rss.${total}`,
        label: `product RSS growth during a tick, ${label}`,
        product: rssMax - rss0,
        baseline: rss0,
        unit: 'MB',
        baselineLabel: 'RSS before',
        goal: total >= 100_000 ? { kind: 'max', value: 150 } : { kind: 'info' },
      }),
      ctx.measurement({
        id: `poller.cpu-per-row.${total}`,
        label: `product CPU per unfinished task of a tick, ${label}`,
        product: cpuPerRowUs,
        baseline: null,
        unit: 'µs',
        baselineLabel: '',
        goal: { kind: 'info' },
        note: `all threads of the product from /proc, from the lease's release to the tick's end, less the probes' own CPU (${(probeCpuPerMs * 1000).toFixed(0)} ms/s before); main thread alone ${mainPerRowUs.toFixed(1)} µs`,
      }),
    ];
  } finally {
    db.close();
    await product.stop();
  }
}

export async function pollerScaleMeasures(ctx: BenchContext): Promise<Measurement[]> {
  // POLLER_SCALE_SIZES=100000 runs one size only (while working on the poller).
  const only = (process.env.POLLER_SCALE_SIZES ?? '')
    .split(',')
    .map(Number)
    .filter((n) => Number.isInteger(n) && n > 0);
  const sizes = only.length > 0 ? only : ctx.settings.pollerScale;
  const most = Math.max(...sizes);
  const per = Math.ceil(most / CHANNELS);
  progress(`poller-scale: starting ${CHANNELS} simulators, submitting ${fmtCount(per * CHANNELS)} tasks`);
  // A step of an hour: every task stays as submitted, so the tick's writes are the reset ones.
  const sims = await Promise.all(
    Array.from({ length: CHANNELS }, (_, i) =>
      spawnSimulator(`sim-scale-${i + 1}`, SECRET, 3_600_000).then((c) => ctx.own(c)),
    ),
  );
  try {
    const ids = await Promise.all(sims.map((s) => submitAll(s.url, per)));
    const out: Measurement[] = [];
    for (const total of sizes) out.push(...(await oneSize(ctx, sims, ids, total)));
    return out;
  } finally {
    await Promise.all(sims.map((s) => s.stop()));
  }
}
