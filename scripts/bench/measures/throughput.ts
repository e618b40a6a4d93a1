import type { BenchContext } from '../context.ts';
import { getter, median, runLoad, sampleLatency, type LoadResult } from '../load.ts';
import { fmtCount, progress } from '../log.ts';
import { spawnRaw, type Child } from '../procs.ts';
import type { Measurement } from '../report.ts';
import { allShapes, latency } from './listing.ts';
import { USER_HEADERS } from './shapes.ts';

/** REST listing throughput against the raw ceilings, and /healthz while the heaviest listing runs. */

function describe(r: LoadResult): string {
  return `${fmtCount(r.count)} requests in ${(r.elapsedMs / 1000).toFixed(1)} s`;
}

async function load(ctx: BenchContext, who: string, url: string): Promise<LoadResult> {
  const s = ctx.settings;
  const ex = getter(url, USER_HEADERS);
  await runLoad(ex, { concurrency: s.concurrency, durationMs: Math.min(1000, s.loadMs / 4), maxCount: 100_000 });
  const r = await runLoad(ex, { concurrency: s.concurrency, durationMs: s.loadMs, maxCount: 2_000_000 });
  if (r.errors) throw new Error(`${who}: ${r.errors} failed requests (${r.firstError})`);
  progress(`  ${who}: ${describe(r)} → ${fmtCount(Math.round(r.rate))} req/s`);
  return r;
}

export async function throughputMeasures(ctx: BenchContext): Promise<Measurement[]> {
  const { large, concurrency } = ctx.settings;
  const product = await ctx.listingProduct(large);
  const path = ctx.database(large);
  const raw = ctx.own(await spawnRaw('raw-listing', 'raw-listing.ts', [path, 'counters']));
  const naive = ctx.own(await spawnRaw('naive-listing', 'raw-listing.ts', [path, 'naive']));
  progress(`listing throughput, ${concurrency} clients, /api/mj/self page 1 at ${fmtCount(large)}`);
  const p = await load(ctx, 'product', `${product.url}/api/mj/self`);
  const r = await load(ctx, 'raw ceiling', `${raw.url}/api/mj/self`);
  const n = await load(ctx, 'naive COUNT(*)', `${naive.url}/api/mj/self`);
  await Promise.all([raw.stop(), naive.stop()]);
  const label = `REST listing throughput (${concurrency} clients, ${fmtCount(large)})`;
  return [
    ctx.measurement({ id: 'throughput.ceiling', label, product: p.rate, baseline: r.rate, unit: 'req/s', baselineLabel: 'raw Bun + prepared SQLite', goal: { kind: 'ratio-min', value: 0.7 } }),
    ctx.measurement({ id: 'throughput.naive', label, product: p.rate, baseline: n.rate, unit: 'req/s', baselineLabel: 'naive COUNT(*) server', goal: { kind: 'info' } }),
  ];
}

async function heaviestShape(ctx: BenchContext, product: Child) {
  const { large } = ctx.settings;
  let worst = { shape: allShapes(large)[0], ms: -1 };
  for (const shape of allShapes(large)) {
    const ms = median(await sampleLatency(getter(product.url + shape.path, shape.headers), { maxCount: 5, maxMs: 2000, warmup: 1 }));
    if (ms > worst.ms) worst = { shape, ms };
  }
  if (!worst.shape) throw new Error('no listing shape');
  return { shape: worst.shape, ms: worst.ms };
}

export async function healthzMeasures(ctx: BenchContext): Promise<Measurement[]> {
  const s = ctx.settings;
  const product = await ctx.listingProduct(s.large);
  progress('healthz idle');
  const health = getter(`${product.url}/healthz`);
  const idle = median(await sampleLatency(health, { maxCount: s.latencyCount * 2, maxMs: s.latencyMs }));
  const heavy = await heaviestShape(ctx, product);
  await latency(ctx, product, heavy.shape, s.large);
  progress(`healthz while "${heavy.shape.label}" (${heavy.ms.toFixed(1)} ms) runs with 4 clients`);
  const stopAt = new Promise<void>((resolve) => setTimeout(resolve, s.loadMs));
  const background = runLoad(getter(product.url + heavy.shape.path, heavy.shape.headers), {
    concurrency: 4, durationMs: s.loadMs, maxCount: 1_000_000,
  });
  await Bun.sleep(100);
  const busySamples: number[] = [];
  let stopped = false;
  void stopAt.then(() => {
    stopped = true;
  });
  while (!stopped && busySamples.length < 10_000) {
    busySamples.push(...(await sampleLatency(health, { maxCount: 1, maxMs: 0, minCount: 1, warmup: 0 })));
    await Bun.sleep(2);
  }
  const bg = await background;
  if (bg.errors) throw new Error(`listing under load: ${bg.errors} failed requests (${bg.firstError})`);
  return [ctx.measurement({
    id: 'healthz.loaded', label: `/healthz p50 while ${heavy.shape.label} runs at ${fmtCount(s.large)}`, product: median(busySamples), baseline: idle,
    unit: 'ms', baselineLabel: '/healthz idle', goal: { kind: 'ratio-max', value: 2 },
    note: `${busySamples.length} probes; ${fmtCount(bg.count)} listings, p50 ${median(bg.latencies).toFixed(1)} ms each under load`,
  })];
}
