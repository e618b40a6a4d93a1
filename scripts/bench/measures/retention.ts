import { join } from 'node:path';
import type { BenchContext } from '../context.ts';
import { getter, median, percentile, sampleLatency } from '../load.ts';
import { fmtCount, progress } from '../log.ts';
import { spawnProduct } from '../procs.ts';
import type { Measurement } from '../report.ts';
import { copyDatabase, ROOT_TOKEN } from '../seed.ts';

/**
 * A retention pass on SQLite (SPEC §17): the seeded tasks (all submitted in 2023–24, 99 % finished)
 * are removed by `admin.retention.run` with `task_retention_days` = 365, archived to gzip JSON
 * Lines first (500 rows per fsync), deleted 10 rows a transaction with rests between them. /healthz is probed one
 * request at a time while the pass runs and, before and after it, on the same idle product: p50 and p99 of
 * each, as ratios. Each round runs on a fresh copy of the cached seed (a pass removes its rows):
 * one round of 200,000 tasks, or two of 50,000 with --quick.
 */

const ROOT_HEADERS = { authorization: `Bearer ${ROOT_TOKEN}`, 'new-api-user': '1', 'content-type': 'application/json' };

interface PassReport {
  tasks: { removed: number; batches: number };
  archive_files: string[];
  duration_ms: number;
}

async function trpc<T>(url: string, path: string, body: unknown): Promise<T> {
  // A pass on a busy machine may take minutes: no client timeout (Bun's fetch gives up after 300 s).
  const init = { method: 'POST', headers: ROOT_HEADERS, body: JSON.stringify(body), timeout: false };
  const res = await fetch(`${url}/trpc/${path}`, init as RequestInit);
  const json = (await res.json()) as { result?: { data: T }; error?: unknown };
  if (!res.ok || !json.result) throw new Error(`${path}: HTTP ${res.status} ${JSON.stringify(json.error)}`);
  return json.result.data;
}

/** /healthz one at a time (2 ms apart) until `until` settles; latencies in ms. */
async function probeUntil(url: string, until: Promise<unknown>): Promise<number[]> {
  let done = false;
  void until.finally(() => {
    done = true;
  });
  const health = getter(`${url}/healthz`);
  const out: number[] = [];
  while (!done) {
    out.push(...(await sampleLatency(health, { maxCount: 1, maxMs: 0, minCount: 1, warmup: 0 })));
    await Bun.sleep(2);
  }
  return out;
}

export async function retentionMeasures(ctx: BenchContext): Promise<Measurement[]> {
  const rows = ctx.settings.large >= 1_000_000 ? 200_000 : 50_000;
  const seeded = ctx.database(rows);
  // One pass of 200,000 (minutes on a busy machine), or two of 50,000 with --quick.
  const rounds = rows >= 200_000 ? 1 : 2;
  const idle: number[] = [];
  const during: number[] = [];
  const passes: PassReport[] = [];
  for (let r = 0; r < rounds; r++) {
    const path = copyDatabase(seeded, join(ctx.runDir, `retention-${r}.db`));
    const product = await spawnProduct({
      name: `retention-${r}`,
      databasePath: path,
      rootToken: ROOT_TOKEN,
      imageCacheDir: join(ctx.runDir, `retention-images-${r}`),
      extraEnv: { ARCHIVE_DIR: join(ctx.runDir, `retention-archive-${r}`) },
    });
    try {
      await trpc(product.url, 'admin.option.update', { key: 'task_retention_days', value: 365 });
      const health = getter(`${product.url}/healthz`);
      idle.push(...(await sampleLatency(health, { maxCount: 2000, maxMs: 3000, minCount: 200, warmup: 20 })));
      progress(`retention round ${r + 1}/${rounds}: a pass over ${fmtCount(rows)} seeded tasks, /healthz probed`);
      const pass = trpc<PassReport>(product.url, 'admin.retention.run', {});
      const probes = await probeUntil(product.url, pass);
      const report = await pass;
      during.push(...probes);
      passes.push(report);
      // Idle again after the pass too: a baseline from before and after follows the machine's load.
      idle.push(...(await sampleLatency(health, { maxCount: 2000, maxMs: 3000, minCount: 200, warmup: 20 })));
      progress(
        `  removed ${fmtCount(report.tasks.removed)} tasks in ${report.tasks.batches} batches, ${(report.duration_ms / 1000).toFixed(1)} s; ${probes.length} probes`,
      );
    } finally {
      await product.stop();
    }
  }
  const removed = passes.reduce((n, p) => n + p.tasks.removed, 0);
  const seconds = passes.reduce((n, p) => n + p.duration_ms, 0) / 1000;
  const note = `${during.length} probes during ${passes.length} passes, ${idle.length} idle`;
  const label = `/healthz during a retention pass over ${fmtCount(rows)} tasks (SQLite)`;
  return [
    ctx.measurement({
      id: 'retention.healthz.p50',
      label: `${label}, p50`,
      product: median(during),
      baseline: median(idle),
      unit: 'ms',
      baselineLabel: '/healthz idle, p50',
      goal: { kind: 'ratio-max', value: 2 },
      note,
    }),
    ctx.measurement({
      id: 'retention.healthz.p99',
      label: `${label}, p99`,
      product: percentile(during, 99),
      baseline: percentile(idle, 99),
      unit: 'ms',
      baselineLabel: '/healthz idle, p99',
      goal: { kind: 'ratio-max', value: 2 },
      note,
    }),
    ctx.measurement({
      id: 'retention.rate',
      label: 'retention pass on SQLite: tasks archived and removed per second',
      product: removed / Math.max(seconds, 1e-3),
      baseline: null,
      unit: 'rows/s',
      baselineLabel: '',
      goal: { kind: 'info' },
      note: `${fmtCount(removed)} rows in ${seconds.toFixed(1)} s over ${passes.length} passes, 500 rows per archive fsync, 10 per delete transaction`,
    }),
  ];
}
