import { Database } from 'bun:sqlite';
import { join } from 'node:path';
import type { BenchContext } from '../context.ts';
import { percentile } from '../load.ts';
import { fmtCount, progress } from '../log.ts';
import { SUBMIT_KEYS } from '../pg-seed.ts';
import { type Child, spawnProduct, spawnSimulator } from '../procs.ts';
import type { Measurement } from '../report.ts';
import { freshDatabase, ROOT_TOKEN } from '../seed.ts';
import { fundSqliteKeys } from './pg.ts';

/**
 * Upstream push (SPEC §16; group push): how long after the upstream's change a task's SUCCESS is
 * visible in the listing (`GET /api/mj/`), in an SSE client (`mj.onTaskUpdate { all: true }`) and
 * at a client's webhook receiver, with push on against polling only (POLL_INTERVAL_MS 15000 in
 * both: with push the poller stays the safety net). The change's moment is the simulator's own
 * `finishTime` of the task; every observer runs in this process on the same clock.
 */

const SECRET = 'sim-secret';
const POLL_INTERVAL_MS = 15_000;
/** Simulator step: a task takes about 10 steps, so ~2.5 s from submit to SUCCESS, 10 pushes on the way. */
const STEP_MS = 250;
const ROOT = { authorization: `Bearer ${ROOT_TOKEN}`, 'new-api-user': '1' };

type Observer = 'listing' | 'sse' | 'webhook';
const OBSERVERS: readonly Observer[] = ['listing', 'sse', 'webhook'];

interface RunResult {
  /** ms from the upstream's change to first seen, per observer, one per task seen there. */
  lag: Record<Observer, number[]>;
  tasks: number;
  /** Tasks some observer never saw within the cap. */
  missing: Record<Observer, number>;
}

/** First moment each mj_id was seen SUCCESS, per observer. */
function seenMaps(): Record<Observer, Map<string, number>> {
  return { listing: new Map(), sse: new Map(), webhook: new Map() };
}

const MJ_ID = /"mj_id":"(\d+)"/;

/** `mj.onTaskUpdate { all: true }` as the dashboard opens it; records SUCCESS items. */
async function watchSse(
  url: string,
  seen: Map<string, number>,
  signal: AbortSignal,
  connected: () => void,
): Promise<void> {
  try {
    const input = encodeURIComponent(JSON.stringify({ all: true }));
    const res = await fetch(`${url}/trpc/mj.onTaskUpdate?input=${input}`, {
      headers: { ...ROOT, accept: 'text/event-stream' },
      signal,
    });
    if (!res.body) throw new Error(`SSE HTTP ${res.status}`);
    const decoder = new TextDecoder();
    let buf = '';
    for await (const chunk of res.body) {
      const now = Date.now();
      buf += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buf.indexOf('\n\n')) >= 0) {
        const message = buf.slice(0, end);
        buf = buf.slice(end + 2);
        if (message.includes('event: connected')) connected();
        if (!message.includes('"status":"SUCCESS"')) continue;
        const id = MJ_ID.exec(message)?.[1];
        if (id && !seen.has(id)) seen.set(id, now);
      }
    }
  } catch (err) {
    if (!signal.aborted) progress(`push: SSE client ended: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** The listing as an operator's screen reads it, as often as it answers (one request at a time). */
async function watchListing(url: string, seen: Map<string, number>, signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    try {
      // Newest first, page after page until a page holds nothing new to see (finished and seen
      // before this look): every task still on its way is read at each look.
      for (let p = 1; !signal.aborted; p++) {
        const res = await fetch(`${url}/api/mj/?page_size=100&p=${p}`, { headers: ROOT, signal });
        const now = Date.now();
        const items =
          ((await res.json()) as { data?: { items: { mj_id: string; status: string }[] } }).data?.items ?? [];
        let fresh = false;
        for (const item of items) {
          if (seen.has(item.mj_id)) continue;
          fresh = true;
          if (item.status === 'SUCCESS') seen.set(item.mj_id, now);
        }
        if (!fresh || items.length < 100) break;
      }
    } catch {
      // aborted at the end
    }
    await Bun.sleep(10);
  }
}

/** The upstream's change moments: the simulator's finishTime of each task. */
async function finishTimes(sim: Child, ids: readonly string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (let i = 0; i < ids.length; i += 100) {
    const res = await fetch(`${sim.url}/mj/task/list-by-condition`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'mj-api-secret': SECRET },
      body: JSON.stringify({ ids: ids.slice(i, i + 100) }),
    });
    for (const t of (await res.json()) as { id: string; finishTime: number | null }[])
      if (t.finishTime) out.set(t.id, t.finishTime);
  }
  return out;
}

async function run(ctx: BenchContext, sim: Child, push: boolean, tasks: number, rate: number): Promise<RunResult> {
  const name = push ? 'push-on' : 'poll-only';
  const path = freshDatabase(ctx.runDir, name, [sim.url, sim.url, sim.url, sim.url]);
  fundSqliteKeys(path);
  // Deliveries are signed: each key needs a webhook secret (token.create makes one in real use).
  const db = new Database(path);
  db.run(`UPDATE tokens SET webhook_secret = 'whsec_bench000000000000000000000000000'`);
  db.close();
  const seen = seenMaps();
  // One receiver per key (its own host:port), as ten client apps would have.
  const receivers = SUBMIT_KEYS.map(() =>
    Bun.serve({
      port: 0,
      hostname: '127.0.0.1',
      async fetch(req) {
        const now = Date.now();
        const body = await req.text();
        if (body.includes('"status":"SUCCESS"')) {
          const id = /"id":"(\d+)"/.exec(body)?.[1];
          if (id && !seen.webhook.has(id)) seen.webhook.set(id, now);
        }
        return new Response('ok');
      },
    }),
  );
  const product = ctx.own(
    await spawnProduct({
      name: `product-${name}`,
      databasePath: path,
      rootToken: ROOT_TOKEN,
      imageCacheDir: join(ctx.runDir, `images-${name}`),
      extraEnv: {
        UPDATE_TASK: 'true',
        POLL_INTERVAL_MS: String(POLL_INTERVAL_MS),
        MJ_UPSTREAM_NOTIFY_ENABLED: String(push),
        WEBHOOK_ALLOW_PRIVATE: 'true',
        READ_WORKERS: '0',
      },
    }),
  );
  const stop = new AbortController();
  try {
    const ready = Promise.withResolvers<void>();
    const sse = watchSse(product.url, seen.sse, stop.signal, () => ready.resolve());
    await Promise.race([ready.promise, Bun.sleep(10_000)]);
    const listing = watchListing(product.url, seen.listing, stop.signal);
    progress(`push: ${name}: ${fmtCount(tasks)} imagines at ${rate}/s, poll interval ${POLL_INTERVAL_MS} ms`);
    const ids: string[] = [];
    const t0 = performance.now();
    const sends: Promise<void>[] = [];
    for (let k = 0; k < tasks; k++) {
      const wait = t0 + (k * 1000) / rate - performance.now();
      if (wait > 0) await Bun.sleep(wait);
      sends.push(
        (async () => {
          const i = k % SUBMIT_KEYS.length;
          const res = await fetch(`${product.url}/mj/submit/imagine`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer sk-${SUBMIT_KEYS[i]}` },
            body: JSON.stringify({
              prompt: `a paper lantern #${k}`,
              notifyHook: `http://127.0.0.1:${receivers[i]!.port}/hook`,
            }),
          });
          const vo = (await res.json()) as { code?: number; result?: string };
          if (vo.code === 1 && vo.result) ids.push(vo.result);
        })(),
      );
    }
    await Promise.all(sends);
    // Every task seen by every observer, or the cap: two poll intervals after the last submit.
    const deadline = Date.now() + 2 * POLL_INTERVAL_MS + 5_000;
    while (Date.now() < deadline && OBSERVERS.some((o) => ids.some((id) => !seen[o].has(id)))) await Bun.sleep(100);
    stop.abort();
    await Promise.all([sse, listing]);
    const finished = await finishTimes(sim, ids);
    const lag = { listing: [] as number[], sse: [] as number[], webhook: [] as number[] };
    const missing = { listing: 0, sse: 0, webhook: 0 };
    for (const id of ids) {
      const at = finished.get(id);
      for (const o of OBSERVERS) {
        const t = seen[o].get(id);
        if (at === undefined || t === undefined) missing[o]++;
        else lag[o].push(Math.max(0, t - at));
      }
    }
    progress(
      `push: ${name}: ${ids.length} tasks; p50 listing ${percentile(lag.listing, 50)} ms, SSE ${percentile(lag.sse, 50)} ms, webhook ${percentile(lag.webhook, 50)} ms`,
    );
    return { lag, tasks: ids.length, missing };
  } finally {
    stop.abort();
    for (const r of receivers) r.stop(true);
    await product.stop();
  }
}

const LABEL: Record<Observer, string> = { listing: 'the listing', sse: 'an SSE client', webhook: 'a webhook receiver' };

export async function pushMeasures(ctx: BenchContext): Promise<Measurement[]> {
  const tasks = 500;
  const rate = 20;
  progress('push: starting the simulator');
  const sim = ctx.own(await spawnSimulator('sim-push', SECRET, STEP_MS));
  const on = await run(ctx, sim, true, tasks, rate);
  const off = await run(ctx, sim, false, tasks, rate);
  const rows: Measurement[] = [];
  const note = (o: Observer) =>
    `${on.tasks} tasks with push (${on.missing[o]} not seen), ${off.tasks} polling only (${off.missing[o]} not seen); ` +
    `${rate} imagines/s, simulator step ${STEP_MS} ms, POLL_INTERVAL_MS ${POLL_INTERVAL_MS} in both`;
  for (const o of OBSERVERS) {
    const p50 = percentile(on.lag[o], 50);
    const p99 = percentile(on.lag[o], 99);
    rows.push(
      ctx.measurement({
        id: `push.${o}.p50`,
        label: `upstream change → ${LABEL[o]}, p50, push on`,
        product: on.missing[o] ? Number.NaN : p50,
        baseline: percentile(off.lag[o], 50),
        unit: 'ms',
        baselineLabel: 'p50 polling only',
        goal: { kind: 'max', value: 100 },
        note: note(o),
      }),
      ctx.measurement({
        id: `push.${o}.p99`,
        label: `upstream change → ${LABEL[o]}, p99, push on`,
        product: on.missing[o] ? Number.NaN : p99,
        baseline: percentile(off.lag[o], 99),
        unit: 'ms',
        baselineLabel: 'p99 polling only',
        goal: { kind: 'max', value: 1000 },
      }),
      ctx.measurement({
        id: `push.${o}.vs-poll`,
        label: `upstream change → ${LABEL[o]}, p50 push on against polling only`,
        product: p50,
        baseline: percentile(off.lag[o], 50),
        unit: 'ms',
        baselineLabel: 'p50 polling only',
        goal: { kind: 'ratio-max', value: 0.02 },
      }),
    );
  }
  return rows;
}
