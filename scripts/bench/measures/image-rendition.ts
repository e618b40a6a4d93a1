import { Database } from 'bun:sqlite';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { DETAIL_W, imageSrc, QUADRANT_W, THUMB_W } from '../../../src/web/format.ts';
import type { BenchContext } from '../context.ts';
import { cpuMsOf } from '../cpu.ts';
import { getter, percentile, runLoad, sampleLatency } from '../load.ts';
import { fmtCount, progress } from '../log.ts';
import { type Child, spawnProduct, spawnSimulator } from '../procs.ts';
import type { Measurement } from '../report.ts';
import { freshDatabase, HEAVY_USER, ROOT_TOKEN } from '../seed.ts';

/**
 * Renditions (SPEC §12, §18) on full-size grids: a simulator with SIM_IMAGE_SIZE=2048 (7–8 MB
 * PNGs) behind the product. Rendition throughput the first time (decode, cut, resize, WebP,
 * store) and cached (a file answer) against sharp called directly on the same bytes; what the
 * dashboard's page of 20 finished tasks and one detail moves in images, with renditions and with
 * the originals; the product's resident memory while 100 renditions are asked for at once, and
 * /healthz meanwhile (sharp works on its own threads: the event loop only waits).
 */

const SECRET = 'sim-secret';
const PAGE = 20;
/** Renditions asked for at once in the memory measure: 25 originals × the dashboard's 4 kinds. */
const AT_ONCE = 100;
/** Clients of the first-time measure on the product: more than it makes at once, so its queue never runs dry. */
const FIRST_CLIENTS = 4;
/**
 * sharp calls at once on the baseline's side: the product's own bound (images/rendition.ts, two
 * on this machine). On a shared machine CPU goes by runnable threads, so more on one side would
 * measure the scheduler, not the work.
 */
const DIRECT_AT_ONCE = Math.max(1, Math.min(2, availableParallelism()));

interface Spec {
  w: number | null;
  part: number | null;
}

/** Every kind of rendition of one original: 4 widths × (whole, 4 quadrants), and the 4 quadrants as they are. */
const ALL_SPECS: Spec[] = [
  ...[128, 256, 512, 1024].flatMap((w) => [null, 1, 2, 3, 4].map((part) => ({ w, part }))),
  ...[1, 2, 3, 4].map((part) => ({ w: null, part })),
];
/** What a dashboard asks of an original: thumbnail, detail, two of its quadrants. */
const BURST_SPECS: Spec[] = [
  { w: 128, part: null },
  { w: 1024, part: null },
  { w: 256, part: 1 },
  { w: 256, part: 2 },
];

const query = (s: Spec) =>
  `?${[s.part === null ? '' : `part=${s.part}`, s.w === null ? '' : `w=${s.w}`].filter(Boolean).join('&')}`;

/** The same work with sharp alone: cut, resize, WebP at the product's settings. */
async function sharpDirect(bytes: Uint8Array, s: Spec): Promise<number> {
  let img = sharp(bytes);
  if (s.part !== null) {
    const { width = 0, height = 0 } = await img.metadata();
    const w = Math.floor(width / 2);
    const h = Math.floor(height / 2);
    img = img.extract({ left: ((s.part - 1) % 2) * w, top: Math.floor((s.part - 1) / 2) * h, width: w, height: h });
  }
  if (s.w !== null) img = img.resize({ width: s.w, withoutEnlargement: true });
  return (await img.webp({ quality: 80, effort: 4 }).toBuffer()).byteLength;
}

/** Runs every job with `clients` at a time; jobs per second. */
async function jobRate(jobs: Array<() => Promise<unknown>>, clients: number): Promise<number> {
  const queue = [...jobs];
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      for (let job = queue.shift(); job; job = queue.shift()) await job();
    }),
  );
  return (jobs.length / (performance.now() - t0)) * 1000;
}

async function bodyBytes(url: string): Promise<number> {
  const res = await fetch(url);
  const n = (await res.arrayBuffer()).byteLength;
  if (res.status !== 200) throw new Error(`${url}: HTTP ${res.status}`);
  return n;
}

interface RenditionRig {
  sim: Child;
  product: Child;
  /** The page's tasks, then one set per first-time round, then the memory measure's. */
  page: string[];
  rounds: string[][];
  burst: string[];
  /** The original bytes behind each task (the baseline's input). */
  bytesOf: Map<string, Uint8Array>;
}

async function simulatorGrids(sim: Child, count: number): Promise<string[]> {
  const urls: string[] = [];
  for (let i = 0; i < count; i++) {
    const res = await fetch(`${sim.url}/mj/submit/imagine`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'mj-api-secret': SECRET },
      body: JSON.stringify({ prompt: `a full-size bench scene ${i + 1}` }),
    });
    const id = ((await res.json()) as { result: string }).result;
    for (;;) {
      const view = (await (
        await fetch(`${sim.url}/mj/task/${id}/fetch`, { headers: { 'mj-api-secret': SECRET } })
      ).json()) as { status: string; imageUrl: string };
      if (view.status === 'SUCCESS') {
        urls.push(view.imageUrl);
        break;
      }
      await Bun.sleep(5);
    }
  }
  return urls;
}

function rig(ctx: BenchContext): Promise<RenditionRig> {
  return ctx.once('image-rendition', async () => {
    progress('renditions: starting a full-size simulator (SIM_IMAGE_SIZE=2048) and the product');
    const sim = ctx.own(await spawnSimulator('sim-image-full', SECRET, 1, { SIM_IMAGE_SIZE: '2048' }));
    const distinct = ctx.settings.rounds >= 3 ? PAGE : 8;
    const grids = await simulatorGrids(sim, distinct);
    const path = freshDatabase(ctx.runDir, 'image-rendition', [sim.url]);
    const db = new Database(path, { strict: true });
    const add = db.prepare(`INSERT INTO tasks (user_id, token_id, channel_id, action, mj_id, prompt, submit_time,
      start_time, finish_time, image_url, status, progress, quota, updated_time)
      VALUES (?, 1, 1, 'IMAGINE', ?, 'rendition bench', ?, ?, ?, ?, 'SUCCESS', '100%', 0, ?)`);
    let seq = 0;
    const urlOf = new Map<string, string>();
    const task = () => {
      const mjId = String(1_910_000_000_000_000 + ++seq);
      const url = grids[seq % grids.length] ?? '';
      const now = Date.now() - 60_000 + seq;
      add.run(HEAVY_USER.id, mjId, now, now, now, url, now);
      urlOf.set(mjId, url);
      return mjId;
    };
    const page = Array.from({ length: PAGE }, task);
    const perRound = ctx.settings.rounds >= 3 ? 2 : 1;
    const rounds = Array.from({ length: ctx.settings.rounds }, () => Array.from({ length: perRound }, task));
    const burst = Array.from({ length: AT_ONCE / BURST_SPECS.length }, task);
    db.close();
    const imageDir = join(ctx.runDir, 'images-rendition');
    const product = ctx.own(
      await spawnProduct({
        name: 'product-rendition',
        databasePath: path,
        rootToken: ROOT_TOKEN,
        imageCacheDir: imageDir,
        extraEnv: ctx.backend.productEnv(path),
      }),
    );
    // Every original stored first: the measures below are about renditions, not the upstream.
    const all = [...page, ...rounds.flat(), ...burst];
    progress(`renditions: storing ${all.length} originals of ${grids.length} distinct 2048² grids`);
    for (const mjId of all) await bodyBytes(`${product.url}/mj/image/${mjId}`);
    const deadline = Date.now() + 60_000;
    while (!all.every((id) => existsSync(join(imageDir, `${id}.json`)))) {
      if (Date.now() > deadline) throw new Error('the originals were not stored within 60 s');
      await Bun.sleep(20);
    }
    const bytesOf = new Map<string, Uint8Array>();
    const byUrl = new Map<string, Uint8Array>();
    for (const mjId of [...rounds.flat(), page[0] ?? '']) {
      const url = urlOf.get(mjId) ?? '';
      let bytes = byUrl.get(url);
      if (!bytes) byUrl.set(url, (bytes = new Uint8Array(await (await fetch(url)).arrayBuffer())));
      bytesOf.set(mjId, bytes);
    }
    return { sim, product, page, rounds, burst, bytesOf };
  });
}

/** Bytes the dashboard moves in images: 20 thumbnails and one detail, as its own links ask. */
async function pageWeight(product: Child, page: string[], renditions: boolean): Promise<number> {
  const item = (mjId: string) => ({ mj_id: mjId, progress: '100%' });
  const size = (s: { w?: number; part?: number }) => (renditions ? s : {});
  let total = 0;
  for (const mjId of page) total += await bodyBytes(`${product.url}${imageSrc(item(mjId), size({ w: THUMB_W }))}`);
  // The detail: with renditions its w=1024 image and four quadrants; before, the thumbnail's original again (cached).
  if (renditions) {
    const detail = page[page.length - 1] ?? '';
    total += await bodyBytes(`${product.url}${imageSrc(item(detail), { w: DETAIL_W })}`);
    for (const part of [1, 2, 3, 4])
      total += await bodyBytes(`${product.url}${imageSrc(item(detail), { part, w: QUADRANT_W })}`);
  }
  return total;
}

export async function renditionMeasures(ctx: BenchContext): Promise<Measurement[]> {
  const r = await rig(ctx);
  const { product } = r;
  // Warm: sharp loaded and one rendition made (of a kind no measure below asks for first).
  await bodyBytes(`${product.url}/mj/image/${r.page[0]}?w=512&part=1`);
  // First, while the product is idle: what it holds beyond that while 100 are made is what they cost.
  await Bun.sleep(500);
  progress(`${AT_ONCE} renditions asked for at once: resident memory and /healthz meanwhile`);
  const health = getter(`${product.url}/healthz`);
  const idleHealth = await sampleLatency(health, { maxCount: 200, maxMs: 1500, minCount: 20 });
  const idle = product.rssMb();
  let peak = idle;
  const timer = setInterval(() => {
    peak = Math.max(peak, product.rssMb());
  }, 20);
  const urls = r.burst.flatMap((id) => BURST_SPECS.map((s) => `${product.url}/mj/image/${id}${query(s)}`));
  let done = false;
  const busyHealth: number[] = [];
  const burst = Promise.all(urls.map((u) => bodyBytes(u))).finally(() => {
    done = true;
  });
  while (!done) {
    const t0 = performance.now();
    await health();
    busyHealth.push(performance.now() - t0);
  }
  await burst;
  clearInterval(timer);
  peak = Math.max(peak, product.rssMb());
  const idleP99 = percentile(idleHealth, 99);
  const busyP99 = percentile(busyHealth, 99);
  progress(
    `  RSS ${idle.toFixed(0)} → peak ${peak.toFixed(0)} MB; /healthz p99 ${idleP99.toFixed(1)} → ${busyP99.toFixed(1)} ms`,
  );

  progress(
    `rendition first time: ${ALL_SPECS.length} kinds × ${r.rounds[0]?.length} originals a round, ${FIRST_CLIENTS} clients / ${DIRECT_AT_ONCE} sharp calls at once`,
  );
  let firstProduct = 0;
  let firstDirect = 0;
  // CPU per rendition (/proc for the product, this process's own for sharp direct): what the
  // machine's other load cannot move. Best round of each side, as for the rates.
  let cpuProduct = Number.POSITIVE_INFINITY;
  let cpuDirect = Number.POSITIVE_INFINITY;
  for (const ids of r.rounds) {
    const urls = ids.flatMap((id) => ALL_SPECS.map((s) => `${product.url}/mj/image/${id}${query(s)}`));
    const c0 = cpuMsOf(product.pid);
    const p = await jobRate(
      urls.map((u) => () => bodyBytes(u)),
      FIRST_CLIENTS,
    );
    const pc = (cpuMsOf(product.pid) - c0) / urls.length;
    const u0 = process.cpuUsage();
    const d = await jobRate(
      ids.flatMap((id) => ALL_SPECS.map((s) => () => sharpDirect(r.bytesOf.get(id) ?? new Uint8Array(), s))),
      DIRECT_AT_ONCE,
    );
    const used = process.cpuUsage(u0);
    const dc = (used.user + used.system) / 1000 / urls.length;
    progress(
      `  product ${p.toFixed(2)}/s (${pc.toFixed(0)} ms CPU each), sharp direct ${d.toFixed(2)}/s (${dc.toFixed(0)} ms CPU each)`,
    );
    firstProduct = Math.max(firstProduct, p);
    firstDirect = Math.max(firstDirect, d);
    cpuProduct = Math.min(cpuProduct, pc);
    cpuDirect = Math.min(cpuDirect, dc);
  }

  const c = Math.min(16, ctx.settings.concurrency);
  const thumb = `${product.url}/mj/image/${r.page[0]}?w=${THUMB_W}`;
  await bodyBytes(thumb);
  progress(`cached w=${THUMB_W} rendition, ${c} clients, against making it with sharp directly`);
  const cached = await runLoad(getter(thumb), { concurrency: c, durationMs: ctx.settings.loadMs, maxCount: 1_000_000 });
  const original = r.bytesOf.get(r.page[0] ?? '') ?? new Uint8Array();
  const direct = await jobRate(
    Array.from({ length: 8 }, () => () => sharpDirect(original, { w: THUMB_W, part: null })),
    FIRST_CLIENTS,
  );
  progress(`  cached ${fmtCount(Math.round(cached.rate))}/s, sharp direct ${direct.toFixed(2)}/s`);

  progress('dashboard image weight: a page of 20 finished 2048² grids and one detail');
  const withRenditions = await pageWeight(product, r.page, true);
  const withOriginals = await pageWeight(product, r.page, false);
  progress(`  ${fmtCount(withRenditions)} bytes with renditions, ${fmtCount(withOriginals)} with originals`);

  return [
    ctx.measurement({
      id: 'image.rendition.first',
      label: `rendition made the first time, 2048² PNG grid → WebP (${ALL_SPECS.length} kinds, ${FIRST_CLIENTS} clients)`,
      product: firstProduct,
      baseline: firstDirect,
      unit: 'img/s',
      baselineLabel: `sharp directly on the same bytes, ${DIRECT_AT_ONCE} at once`,
      goal: { kind: 'ratio-min', value: 0.8 },
      note: 'the product also reads the original from its store, answers over HTTP and stores the WebP; best round of each side',
    }),
    ctx.measurement({
      id: 'image.rendition.first-cpu',
      label: 'CPU per rendition made the first time (/proc)',
      product: cpuProduct,
      baseline: cpuDirect,
      unit: 'ms',
      baselineLabel: 'sharp directly on the same bytes',
      goal: { kind: 'ratio-max', value: 1.2 },
      note: 'the same libvips work on both sides (decode, cut, resize, encode); the product adds an 8 MB file read, HTTP and a store write',
    }),
    ctx.measurement({
      id: 'image.rendition.cached',
      label: `rendition cached, w=${THUMB_W} (${c} clients)`,
      product: cached.rate,
      baseline: direct,
      unit: 'img/s',
      baselineLabel: 'sharp making it directly',
      goal: { kind: 'ratio-min', value: 50 },
      note: 'made once and kept: a cached answer is a file send, not a new decode',
    }),
    ctx.measurement({
      id: 'image.page-weight',
      label: 'dashboard images: page of 20 finished 2048² grids + one detail',
      product: withRenditions / 1024,
      baseline: withOriginals / 1024,
      unit: 'KiB',
      baselineLabel: 'the same page with originals',
      goal: { kind: 'max', value: 1024 },
    }),
    ctx.measurement({
      id: 'image.rendition.rss',
      label: `rendition RSS growth, ${AT_ONCE} asked for at once`,
      product: peak - idle,
      baseline: idle,
      unit: 'MB',
      baselineLabel: 'RSS idle',
      goal: { kind: 'max', value: 300 },
    }),
    ctx.measurement({
      id: 'image.rendition.healthz',
      label: `/healthz p99 while ${AT_ONCE} renditions are made`,
      product: busyP99,
      baseline: idleP99,
      unit: 'ms',
      baselineLabel: '/healthz p99 idle',
      goal: { kind: 'info' },
    }),
  ];
}
