import { join } from 'node:path';
import type { BenchContext } from '../context.ts';
import { cpuMsOf } from '../cpu.ts';
import { bestRates, type Exchange, median, poster, runLoad, sampleLatency } from '../load.ts';
import { fmtCount, progress } from '../log.ts';
import { type Child, spawnProduct, spawnRaw, spawnSimulator } from '../procs.ts';
import type { Measurement } from '../report.ts';
import { copyDatabase, freshDatabase, HEAVY_API_KEY, ROOT_TOKEN } from '../seed.ts';

/**
 * Relay submits (SPEC §12): throughput of `POST /mj/submit/imagine` against a raw Bun +
 * bun:sqlite relay doing the same two transactions and the forward, and the latency the gateway
 * adds (p50) over calling the simulator directly. Each server has its own copy of the database.
 */

const SECRET = 'sim-secret';

export interface SubmitRig {
  sim: Child;
  product: Child;
  /** The product's database file. */
  productDb: string;
  raw: Child;
}

export function submitRig(ctx: BenchContext): Promise<SubmitRig> {
  return ctx.once('submit', async () => {
    progress('submit: starting simulator, product and raw relay');
    const sim = ctx.own(await spawnSimulator('sim-submit', SECRET));
    const base = freshDatabase(ctx.runDir, 'submit-base', [sim.url, sim.url, sim.url, sim.url]);
    const productDb = copyDatabase(base, join(ctx.runDir, 'submit-product.db'));
    const rawDb = copyDatabase(base, join(ctx.runDir, 'submit-raw.db'));
    const product = ctx.own(
      await spawnProduct({
        name: 'product-submit',
        databasePath: productDb,
        rootToken: ROOT_TOKEN,
        imageCacheDir: join(ctx.runDir, 'images-submit'),
        extraEnv: ctx.backend.productEnv(productDb),
      }),
    );
    const raw = ctx.own(await spawnRaw('raw-relay', 'raw-relay.ts', [rawDb]));
    return { sim, product, productDb, raw };
  });
}

let seq = 0;
const body = () => ({ prompt: `a lighthouse in a storm, oil painting #${seq++}` });
const KEY_HEADERS = { authorization: `Bearer sk-${HEAVY_API_KEY}` };

function submitTo(url: string, headers: Record<string, string> = KEY_HEADERS): Exchange {
  return poster(`${url}/mj/submit/imagine`, headers, body);
}

export async function submitMeasures(ctx: BenchContext): Promise<Measurement[]> {
  const { product, raw } = await submitRig(ctx);
  progress(`submit throughput, ${ctx.settings.concurrency} clients`);
  const names = ['product', 'raw relay'];
  const exchanges = [submitTo(product.url), submitTo(raw.url)];
  const { concurrency, loadMs, rounds } = ctx.settings;
  for (const ex of exchanges) await runLoad(ex, { concurrency, durationMs: 300, maxCount: 5_000 });
  // The product's CPU over its own rounds (it idles while the raw relay's run), per accepted submit.
  const cpu = { product: 0, raw: 0 };
  const accepted = { product: 0, raw: 0 };
  let mark = { product: cpuMsOf(product.pid), raw: cpuMsOf(raw.pid) };
  const [p, r] = await bestRates(
    exchanges,
    rounds,
    { concurrency, durationMs: loadMs, maxCount: 100_000 },
    (i, res) => {
      const side = i === 0 ? 'product' : 'raw';
      const now = { product: cpuMsOf(product.pid), raw: cpuMsOf(raw.pid) };
      cpu[side] += now[side] - mark[side];
      accepted[side] += res.count;
      mark = now;
      progress(
        `  ${names[i]}: ${fmtCount(res.count)} submits in ${(res.elapsedMs / 1000).toFixed(1)} s → ${fmtCount(Math.round(res.rate))}/s`,
      );
    },
  );
  if (!p || !r) throw new Error('missing load result');
  return [
    ctx.measurement({
      id: 'submit.throughput',
      label: `relay submit throughput (${ctx.settings.concurrency} clients)`,
      product: p.rate,
      baseline: r.rate,
      unit: 'req/s',
      baselineLabel: 'raw Bun + bun:sqlite relay',
      goal: { kind: 'ratio-min', value: 0.5 },
    }),
    ctx.measurement({
      id: 'submit.cpu',
      label: 'gateway CPU per accepted submit (SQLite, /proc)',
      product: cpu.product / accepted.product,
      baseline: cpu.raw / accepted.raw,
      unit: 'ms',
      baselineLabel: 'raw Bun + bun:sqlite relay',
      goal: { kind: 'info' },
      note: `${fmtCount(accepted.product)} submits over ${rounds} rounds of ${concurrency} clients; CPU of the product process alone (user + system)`,
    }),
  ];
}

export async function relayLatencyMeasures(ctx: BenchContext): Promise<Measurement[]> {
  const { sim, product } = await submitRig(ctx);
  const n = ctx.settings.relayCount;
  progress(`relay submit latency, ${fmtCount(n)} sequential submits each way`);
  const viaGateway = submitTo(product.url);
  const direct = submitTo(sim.url, { 'mj-api-secret': SECRET });
  const gw: number[] = [];
  const up: number[] = [];
  // Alternating blocks, so drift (GC, other load) touches both sides alike.
  for (let done = 0; done < n; done += 20) {
    up.push(...(await sampleLatency(direct, { maxCount: 20, maxMs: 60_000, warmup: done === 0 ? 10 : 0 })));
    gw.push(...(await sampleLatency(viaGateway, { maxCount: 20, maxMs: 60_000, warmup: done === 0 ? 10 : 0 })));
  }
  return [
    ctx.measurement({
      id: 'submit.latency',
      label: 'relay submit p50, sequential',
      product: median(gw),
      baseline: median(up),
      unit: 'ms',
      baselineLabel: 'simulator direct',
      goal: { kind: 'diff-max', value: 2 },
    }),
  ];
}
