import type { BenchContext } from '../context.ts';
import { bestRates, type Exchange, getter, median, runLoad, sampleLatency } from '../load.ts';
import { fmtCount, progress } from '../log.ts';
import { type Child, spawnRaw } from '../procs.ts';
import type { Measurement } from '../report.ts';
import { allShapes, checked } from './listing.ts';
import { USER_HEADERS } from './shapes.ts';

/** REST listing throughput against the raw ceilings, and /healthz while the heaviest listing runs. */

export async function throughputMeasures(ctx: BenchContext): Promise<Measurement[]> {
  const { large, concurrency, loadMs, rounds } = ctx.settings;
  const product = await ctx.listingProduct(large);
  const path = ctx.database(large);
  const raw = ctx.own(await spawnRaw('raw-listing', 'raw-listing.ts', [path, 'counters']));
  const naive = ctx.own(await spawnRaw('naive-listing', 'raw-listing.ts', [path, 'naive']));
  progress(`listing throughput, ${concurrency} clients, /api/mj/self page 1 at ${fmtCount(large)}, ${rounds} rounds`);
  const names = ['product', 'raw ceiling', 'naive COUNT(*)'];
  const exchanges = [product, raw, naive].map((c) => getter(`${c.url}/api/mj/self`, USER_HEADERS));
  for (const ex of exchanges) await runLoad(ex, { concurrency, durationMs: 300, maxCount: 10_000 });
  const [p, r, n] = await bestRates(
    exchanges,
    rounds,
    { concurrency, durationMs: loadMs, maxCount: 2_000_000 },
    (i, res) => {
      progress(
        `  ${names[i]}: ${fmtCount(res.count)} requests in ${(res.elapsedMs / 1000).toFixed(1)} s → ${fmtCount(Math.round(res.rate))} req/s`,
      );
    },
  );
  await Promise.all([raw.stop(), naive.stop()]);
  if (!p || !r || !n) throw new Error('missing load result');
  const label = `REST listing throughput (${concurrency} clients, ${fmtCount(large)})`;
  return [
    ctx.measurement({
      id: 'throughput.ceiling',
      label,
      product: p.rate,
      baseline: r.rate,
      unit: 'req/s',
      baselineLabel: 'raw Bun + prepared SQLite',
      goal: { kind: 'ratio-min', value: 0.7 },
    }),
    ctx.measurement({
      id: 'throughput.naive',
      label,
      product: p.rate,
      baseline: n.rate,
      unit: 'req/s',
      baselineLabel: 'naive COUNT(*) server',
      goal: { kind: 'info' },
    }),
  ];
}

async function heaviestShape(ctx: BenchContext, product: Child) {
  const { large } = ctx.settings;
  let worst = { shape: allShapes(large)[0], ms: -1 };
  for (const shape of allShapes(large)) {
    const ms = median(
      await sampleLatency(getter(product.url + shape.path, shape.headers), {
        maxCount: 3,
        maxMs: 1000,
        minCount: 3,
        warmup: 1,
      }),
    );
    if (ms > worst.ms) worst = { shape, ms };
  }
  if (!worst.shape) throw new Error('no listing shape');
  return { shape: worst.shape, ms: worst.ms };
}

/**
 * /healthz probes while `heavy` runs with 4 clients: for `ms`, and on until 10 probes were
 * answered (at most 3 × `ms`), so a listing that blocks for seconds still yields a median.
 */
async function loadedHealth(
  health: Exchange,
  heavy: Exchange,
  ms: number,
): Promise<{ probes: number[]; listings: number[] }> {
  const stop = Promise.withResolvers<void>();
  const background = runLoad(heavy, { concurrency: 4, durationMs: 3 * ms, maxCount: 1_000_000, until: stop.promise });
  const t0 = performance.now();
  await Bun.sleep(50);
  const probes: number[] = [];
  while (
    probes.length < 10_000 &&
    performance.now() - t0 < 3 * ms &&
    (performance.now() - t0 < ms || probes.length < 10)
  ) {
    probes.push(...(await sampleLatency(health, { maxCount: 1, maxMs: 0, minCount: 1, warmup: 0 })));
    await Bun.sleep(2);
  }
  stop.resolve();
  const bg = await background;
  if (bg.errors) throw new Error(`listing under load: ${bg.errors} failed requests (${bg.firstError})`);
  return { probes, listings: bg.latencies };
}

export async function healthzMeasures(ctx: BenchContext): Promise<Measurement[]> {
  const s = ctx.settings;
  const product = await ctx.listingProduct(s.large);
  const health = getter(`${product.url}/healthz`);
  const heavy = await heaviestShape(ctx, product);
  const heavyEx = await checked(ctx, product, heavy.shape, s.large);
  progress(
    `healthz idle vs while "${heavy.shape.label}" (${heavy.ms.toFixed(1)} ms) runs with 4 clients, ${s.rounds} rounds`,
  );
  // Alternating idle and loaded rounds; each side's median over all its probes.
  const idle: number[] = [];
  const loaded: number[] = [];
  const listings: number[] = [];
  for (let r = 0; r < s.rounds; r++) {
    idle.push(...(await sampleLatency(health, { maxCount: s.latencyCount * 2, maxMs: s.latencyMs })));
    const round = await loadedHealth(health, heavyEx, s.loadMs);
    loaded.push(...round.probes);
    listings.push(...round.listings);
  }
  return [
    ctx.measurement({
      id: 'healthz.loaded',
      label: `/healthz p50 while ${heavy.shape.label} runs at ${fmtCount(s.large)}`,
      product: median(loaded),
      baseline: median(idle),
      unit: 'ms',
      baselineLabel: '/healthz idle',
      goal: { kind: 'ratio-max', value: 2 },
      note: `${loaded.length} probes under load, ${idle.length} idle; ${fmtCount(listings.length)} listings, p50 ${median(listings).toFixed(1)} ms each under load`,
    }),
  ];
}
