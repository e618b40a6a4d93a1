import { Database } from 'bun:sqlite';
import { join } from 'node:path';
import type { BenchContext } from '../context.ts';
import { bestRates, getter, type LoadResult, runLoad } from '../load.ts';
import { fmtCount, progress } from '../log.ts';
import { type Child, spawnProduct, spawnRaw, spawnSimulator } from '../procs.ts';
import type { Measurement } from '../report.ts';
import { freshDatabase, HEAVY_USER, ROOT_TOKEN } from '../seed.ts';
import { renditionMeasures } from './image-rendition.ts';

/**
 * Image forwarder (SPEC §12): a cached SUCCESS image vs the simulator served directly, an
 * uncached one vs a bare Bun fetch → Response proxy (once streamed without Content-Length, once a
 * small PNG that declares its length, as CDNs answer), and the product's resident memory while a
 * 1 GiB image streams through it (the bare proxy's growth shown for context). Then the rows of
 * renditions on full-size grids (image-rendition.ts).
 */

const SECRET = 'sim-secret';
const IMAGE_BYTES = 256 * 1024;
const MJ = {
  cached: '1900000000000001',
  uncached: '1900000000000002',
  huge: '1900000000000003',
  sized: '1900000000000004',
} as const;
/** A small PNG the simulator renders in memory and sends with Content-Length, as a CDN does. */
const SIZED_PATH = '/images/upload_0123456789abcdef.png';

interface ImageRig {
  sim: Child;
  product: Child;
  proxy: Child;
}

function rig(ctx: BenchContext): Promise<ImageRig> {
  return ctx.once('image', async () => {
    progress('image forwarder: starting simulator, product and bare proxy');
    const sim = ctx.own(await spawnSimulator('sim-image', SECRET));
    const path = freshDatabase(ctx.runDir, 'image', [sim.url, sim.url, sim.url, sim.url]);
    const db = new Database(path, { strict: true });
    const now = Date.now();
    const add =
      db.prepare(`INSERT INTO tasks (user_id, token_id, channel_id, action, mj_id, prompt, submit_time, start_time, finish_time,
      image_url, status, progress, quota, updated_time) VALUES (?, 1, 1, 'IMAGINE', ?, 'image bench', ?, ?, ?, ?, ?, ?, 0, ?)`);
    add.run(
      HEAVY_USER.id,
      MJ.cached,
      now,
      now,
      now,
      `${sim.url}/images/big-${IMAGE_BYTES}.png`,
      'SUCCESS',
      '100%',
      now,
    );
    add.run(
      HEAVY_USER.id,
      MJ.uncached,
      now,
      now,
      0,
      `${sim.url}/images/big-${IMAGE_BYTES}.png`,
      'IN_PROGRESS',
      '50%',
      now,
    );
    add.run(
      HEAVY_USER.id,
      MJ.huge,
      now,
      now,
      0,
      `${sim.url}/images/big-${ctx.settings.streamBytes}.png`,
      'IN_PROGRESS',
      '50%',
      now,
    );
    add.run(HEAVY_USER.id, MJ.sized, now, now, 0, `${sim.url}${SIZED_PATH}`, 'IN_PROGRESS', '50%', now);
    db.close();
    const product = ctx.own(
      await spawnProduct({
        name: 'product-image',
        databasePath: path,
        rootToken: ROOT_TOKEN,
        imageCacheDir: join(ctx.runDir, 'images-image'),
        extraEnv: ctx.backend.productEnv(path),
      }),
    );
    const proxy = ctx.own(await spawnRaw('raw-proxy', 'raw-proxy.ts', [sim.url]));
    return { sim, product, proxy };
  });
}

/** Best-round rates of the product and its baseline, measured in alternating rounds. */
async function pair(
  ctx: BenchContext,
  names: [string, string],
  urls: [string, string],
  concurrency: number,
): Promise<[LoadResult, LoadResult]> {
  const exchanges = urls.map((u) => getter(u));
  for (const ex of exchanges) await runLoad(ex, { concurrency, durationMs: 300, maxCount: 10_000 });
  const [a, b] = await bestRates(
    exchanges,
    ctx.settings.rounds,
    { concurrency, durationMs: ctx.settings.loadMs, maxCount: 1_000_000 },
    (i, r) => {
      progress(
        `  ${names[i]}: ${fmtCount(r.count)} images in ${(r.elapsedMs / 1000).toFixed(1)} s → ${fmtCount(Math.round(r.rate))}/s`,
      );
    },
  );
  if (!a || !b) throw new Error('missing load result');
  return [a, b];
}

/** Streams one URL to the end, watching `who`'s RSS; returns the growth over the start, in MB. */
async function rssGrowth(child: Child, url: string, bytes: number): Promise<number> {
  const before = child.rssMb();
  let peak = before;
  const timer = setInterval(() => {
    peak = Math.max(peak, child.rssMb());
  }, 25);
  try {
    const res = await fetch(url);
    if (res.status !== 200 || !res.body) throw new Error(`${child.name}: HTTP ${res.status}`);
    let got = 0;
    for await (const chunk of res.body) got += chunk.byteLength;
    if (got !== bytes) throw new Error(`${child.name}: streamed ${got} of ${bytes} bytes`);
  } finally {
    clearInterval(timer);
  }
  peak = Math.max(peak, child.rssMb());
  return peak - before;
}

export async function imageMeasures(ctx: BenchContext): Promise<Measurement[]> {
  const { sim, product, proxy } = await rig(ctx);
  const c = Math.min(16, ctx.settings.concurrency);
  const kb = `${IMAGE_BYTES / 1024} KiB`;
  progress(`cached SUCCESS image (${kb}), ${c} clients`);
  for (let i = 0; i < 3; i++) await getter(`${product.url}/mj/image/${MJ.cached}`)();
  const [cached, direct] = await pair(
    ctx,
    ['product, cached', 'simulator direct'],
    [`${product.url}/mj/image/${MJ.cached}`, `${sim.url}/images/big-${IMAGE_BYTES}.png`],
    c,
  );
  progress(`uncached image (${kb}), ${c} clients`);
  const [uncached, bare] = await pair(
    ctx,
    ['product, uncached', 'bare Bun proxy'],
    [`${product.url}/mj/image/${MJ.uncached}`, `${proxy.url}/images/big-${IMAGE_BYTES}.png`],
    c,
  );
  const sizedHead = await fetch(`${sim.url}${SIZED_PATH}`);
  const sizedBytes = Number(sizedHead.headers.get('content-length'));
  await sizedHead.arrayBuffer();
  if (!(sizedBytes > 0)) throw new Error('the simulator sent no Content-Length for its rendered PNG');
  const sizedKb = `${(sizedBytes / 1024).toFixed(0)} KiB`;
  progress(`uncached image with Content-Length (${sizedKb}), ${c} clients`);
  const [sized, sizedBare] = await pair(
    ctx,
    ['product, uncached sized', 'bare Bun proxy'],
    [`${product.url}/mj/image/${MJ.sized}`, `${proxy.url}${SIZED_PATH}`],
    c,
  );
  const mb = Math.round(ctx.settings.streamBytes / 1024 / 1024);
  progress(`streaming ${fmtCount(mb)} MiB through the product and the bare proxy`);
  const productGrowth = await rssGrowth(product, `${product.url}/mj/image/${MJ.huge}`, ctx.settings.streamBytes);
  const proxyGrowth = await rssGrowth(
    proxy,
    `${proxy.url}/images/big-${ctx.settings.streamBytes}.png`,
    ctx.settings.streamBytes,
  );
  const forwarder = [
    ctx.measurement({
      id: 'image.cached',
      label: `image forwarder, cached SUCCESS ${kb} (${c} clients)`,
      product: cached.rate,
      baseline: direct.rate,
      unit: 'img/s',
      baselineLabel: 'simulator direct',
      goal: { kind: 'ratio-min', value: 0.9 },
    }),
    ctx.measurement({
      id: 'image.uncached',
      label: `image forwarder, uncached ${kb} (${c} clients)`,
      product: uncached.rate,
      baseline: bare.rate,
      unit: 'img/s',
      baselineLabel: 'bare Bun proxy',
      goal: { kind: 'ratio-min', value: 0.9 },
    }),
    ctx.measurement({
      id: 'image.uncached-sized',
      label: `image forwarder, uncached ${sizedKb} PNG with Content-Length (${c} clients)`,
      product: sized.rate,
      baseline: sizedBare.rate,
      unit: 'img/s',
      baselineLabel: 'bare Bun proxy',
      goal: { kind: 'ratio-min', value: 0.9 },
    }),
    ctx.measurement({
      id: 'image.rss',
      label: `image forwarder RSS growth, ${fmtCount(mb)} MiB streamed`,
      product: productGrowth,
      baseline: proxyGrowth,
      unit: 'MB',
      baselineLabel: 'bare Bun proxy',
      goal: { kind: 'max', value: 50 },
    }),
  ];
  // A rendition rig that fails leaves the forwarder's rows standing, with an error row of its own.
  try {
    return [...forwarder, ...(await renditionMeasures(ctx))];
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    progress(`renditions failed: ${message}`);
    return [
      ...forwarder,
      ctx.measurement({
        id: 'image.rendition',
        label: 'renditions',
        product: Number.NaN,
        baseline: null,
        unit: '',
        baselineLabel: '',
        goal: { kind: 'info' },
        note: message,
      }),
    ];
  }
}
