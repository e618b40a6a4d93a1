import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchContext } from '../context.ts';
import { cpuMsOf } from '../cpu.ts';
import { type Exchange, median, openLoop, type Timed } from '../load.ts';
import { fmtCount, progress } from '../log.ts';
import { SUBMIT_KEYS } from '../pg-seed.ts';
import { type Child, spawnProduct, spawnRaw, spawnServer, spawnSimulator } from '../procs.ts';
import type { Measurement } from '../report.ts';
import { freshDatabase, HEAVY_USER, OTHER_USERS, ROOT_TOKEN } from '../seed.ts';
import { fundSqliteKeys } from './pg.ts';

/**
 * Live updates at scale (issue 15 point 1; group live): 1,000 `mj.onTaskUpdate` SSE subscribers
 * (a tenth of them admins with `{ all: true }`, the rest spread over the 9 submitting users), in
 * their own process, while relay submits arrive at a steady rate. Submit p50 against the same
 * load with nobody subscribed, every task's update delivered to every subscriber allowed to see
 * it, the product's CPU per delivered event against a bare Bun SSE broadcaster sending as many
 * events of the same size to as many subscribers, and the product's RSS growth.
 */

const SECRET = 'sim-secret';
/** User id of each key of SUBMIT_KEYS: the heavy user, then the other users in order. */
const KEY_USERS = [HEAVY_USER.id, ...Array.from({ length: OTHER_USERS }, (_, u) => 3 + u)];

function accessTokenOf(user: number): string {
  return user === HEAVY_USER.id ? HEAVY_USER.token : `bench-user-${user}-token-000000000000000000`;
}

interface SubStats {
  connected: number;
  errors: string[];
  subs: { scope: string; events: number; bytes: number; distinct: number }[];
}

async function stats(subscribers: Child): Promise<SubStats> {
  return (await (await fetch(subscribers.url)).json()) as SubStats;
}

/** Scopes of `n` subscribers: a tenth `all`, the rest round-robin over the submitting users. */
function scopes(n: number): string[] {
  const admins = Math.round(n / 10);
  return Array.from({ length: n }, (_, i) => (i < admins ? 'all' : `user:${KEY_USERS[i % KEY_USERS.length]}`));
}

function spawnSubscribers(
  ctx: BenchContext,
  name: string,
  targets: { url: string; headers: Record<string, string>; scope: string }[],
): Promise<Child> {
  // A file, not the environment: 1,000 targets are past the size of one environment variable.
  const file = join(ctx.runDir, `${name}.json`);
  writeFileSync(file, JSON.stringify(targets));
  return spawnServer({
    name,
    script: 'scripts/bench/servers/sse-subscribers.ts',
    args: [file],
    ready: /listening on (http:\/\/\S+)/,
    timeoutMs: 120_000,
    // Bun's fetch holds at most 256 requests open at once by default; every stream is one.
    env: { BUN_CONFIG_MAX_HTTP_REQUESTS: String(targets.length + 64) },
  });
}

/** Relay submits round-robin over the funded keys, counting accepted ones per user. */
function submitter(url: string, accepted: Map<number, number>): Exchange {
  let k = 0;
  return async () => {
    const i = k++ % SUBMIT_KEYS.length;
    const res = await fetch(`${url}/mj/submit/imagine`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer sk-${SUBMIT_KEYS[i]}` },
      body: JSON.stringify({ prompt: `a lantern festival, live bench #${k}` }),
    });
    const body = (await res.json()) as { code?: number };
    const user = KEY_USERS[i] ?? 0;
    if (res.status === 200 && body.code === 1) accepted.set(user, (accepted.get(user) ?? 0) + 1);
    return res.status;
  };
}

/** Until every expected (subscriber, task) pair arrived, nothing moved for 5 s, or `capMs`. */
async function drain(
  subscribers: Child,
  expected: (scope: string) => number,
  capMs: number,
): Promise<{ s: SubStats; delivered: number; want: number }> {
  const deadline = performance.now() + capMs;
  let last = -1;
  let still = performance.now();
  for (;;) {
    const s = await stats(subscribers);
    const want = s.subs.reduce((a, x) => a + expected(x.scope), 0);
    const delivered = s.subs.reduce((a, x) => a + Math.min(x.distinct, expected(x.scope)), 0);
    const events = s.subs.reduce((a, x) => a + x.events, 0);
    if (events !== last) {
      last = events;
      still = performance.now();
    }
    if (delivered >= want || performance.now() - still > 5_000 || performance.now() > deadline)
      return { s, delivered, want };
    await Bun.sleep(250);
  }
}

const sum = (s: SubStats, f: (x: SubStats['subs'][number]) => number) => s.subs.reduce((a, x) => a + f(x), 0);

export async function liveMeasures(ctx: BenchContext): Promise<Measurement[]> {
  const { liveSubscribers: n, liveRate: rate, liveSeconds: seconds } = ctx.settings;
  const capMs = Math.max(60_000, seconds * 10_000);
  progress('live: starting simulator and product');
  const sim = ctx.own(await spawnSimulator('sim-live', SECRET));
  const path = freshDatabase(ctx.runDir, 'live', [sim.url, sim.url, sim.url, sim.url]);
  fundSqliteKeys(path);
  // 1,000 streams over 10 users: past the default 8 per user (SPEC §10), as a wall of dashboards would be.
  const product = ctx.own(
    await spawnProduct({
      name: 'product-live',
      databasePath: path,
      rootToken: ROOT_TOKEN,
      imageCacheDir: join(ctx.runDir, 'images-live'),
      extraEnv: { LIVE_STREAMS_PER_USER: String(n) },
    }),
  );

  progress(`live: ${rate} submits/s for ${seconds} s, nobody subscribed`);
  const quietCpu0 = cpuMsOf(product.pid);
  const quiet = await openLoop(submitter(product.url, new Map()), rate, Bun.sleep(seconds * 1000), capMs);
  // What the submits themselves cost, taken off the busy run's CPU so what remains is the fan-out.
  const cpuPerSubmit = (cpuMsOf(product.pid) - quietCpu0) / Math.max(1, quiet.length);

  const rss0 = product.rssMb();
  progress(`live: connecting ${fmtCount(n)} SSE subscribers to mj.onTaskUpdate`);
  const targets = scopes(n).map((scope) => {
    const user = scope === 'all' ? 1 : Number(scope.slice(5));
    const input = encodeURIComponent(JSON.stringify(scope === 'all' ? { all: true } : {}));
    return {
      scope,
      url: `${product.url}/trpc/mj.onTaskUpdate?input=${input}`,
      headers: {
        authorization: `Bearer ${user === 1 ? ROOT_TOKEN : accessTokenOf(user)}`,
        'new-api-user': String(user),
      },
    };
  });
  const subscribers = ctx.own(await spawnSubscribers(ctx, 'sse-subscribers', targets));
  const ready = await stats(subscribers);
  if (ready.connected !== n)
    throw new Error(`${ready.connected} of ${n} subscribers connected (${ready.errors.join('; ')})`);

  progress(`live: ${rate} submits/s for ${seconds} s with ${fmtCount(n)} subscribers`);
  const accepted = new Map<number, number>();
  const rss: number[] = [product.rssMb()];
  const rssTimer = setInterval(() => rss.push(product.rssMb()), 250);
  const cpu0 = cpuMsOf(product.pid);
  const busy = await openLoop(submitter(product.url, accepted), rate, Bun.sleep(seconds * 1000), capMs);
  const total = [...accepted.values()].reduce((a, b) => a + b, 0);
  const expected = (scope: string) => (scope === 'all' ? total : (accepted.get(Number(scope.slice(5))) ?? 0));
  const got = await drain(subscribers, expected, capMs);
  const cpuMs = cpuMsOf(product.pid) - cpu0;
  const fanoutMs = Math.max(0, cpuMs - cpuPerSubmit * busy.length);
  clearInterval(rssTimer);
  const events = sum(got.s, (x) => x.events);
  const bytes = sum(got.s, (x) => x.bytes);
  await subscribers.stop();
  progress(
    `  ${fmtCount(events)} events (${fmtCount(got.delivered)} of ${fmtCount(got.want)} task updates), product CPU ${cpuMs.toFixed(0)} ms`,
  );

  const floor = await broadcasterCpu(
    ctx,
    n,
    accepted,
    Math.max(1, Math.round(events / Math.max(1, got.delivered))),
    Math.round(bytes / Math.max(1, events)),
    rate,
    capMs,
  );
  const late = (t: Timed[]) => t.filter((x) => x.status !== 200).length;
  const p50 = (t: Timed[]) => median(t.map((x) => x.ms));
  const label = `${fmtCount(n)} SSE subscribers, ${rate} submits/s for ${seconds} s`;
  return [
    ctx.measurement({
      id: 'live.submit-p50',
      label: `relay submit p50, ${label}`,
      product: p50(busy),
      baseline: p50(quiet),
      unit: 'ms',
      baselineLabel: 'same load, nobody subscribed',
      goal: { kind: 'ratio-max', value: 2 },
      note: `${busy.length} submits (${late(busy)} not answered 200 within ${capMs / 1000} s of the last send), ${quiet.length} without subscribers (${late(quiet)})`,
    }),
    ctx.measurement({
      id: 'live.delivered',
      label: `task updates delivered, ${label}`,
      product: got.delivered,
      baseline: got.want,
      unit: 'updates',
      baselineLabel: '(subscriber, task) pairs to deliver',
      goal: { kind: 'ratio-min', value: 1 },
      note: `${fmtCount(total)} accepted submits; waited until all arrived or 5 s passed with none (cap ${capMs / 1000} s)`,
    }),
    ctx.measurement({
      id: 'live.cpu-per-event',
      label: `product CPU per delivered event, ${label}`,
      product: (fanoutMs * 1000) / Math.max(1, events),
      baseline: floor.usPerEvent,
      unit: 'µs',
      baselineLabel: 'bare Bun SSE broadcaster',
      goal: { kind: 'ratio-max', value: 3 },
      note: `${fmtCount(events)} events of ~${Math.round(bytes / Math.max(1, events))} B; product CPU ${cpuMs.toFixed(0)} ms, less ${cpuPerSubmit.toFixed(2)} ms per submit as measured with nobody subscribed; broadcaster ${fmtCount(floor.events)} events, ${floor.cpuMs.toFixed(0)} ms`,
    }),
    ctx.measurement({
      id: 'live.rss',
      label: `product RSS growth, ${label}`,
      product: Math.max(...rss) - rss0,
      baseline: rss0,
      unit: 'MB',
      baselineLabel: 'RSS before the subscribers',
      goal: { kind: 'max', value: 100 },
    }),
  ];
}

/** CPU per delivered event of the bare broadcaster for the same tasks, events per task and event size. */
async function broadcasterCpu(
  ctx: BenchContext,
  n: number,
  accepted: Map<number, number>,
  perTask: number,
  size: number,
  rate: number,
  capMs: number,
) {
  progress(`live: bare broadcaster, ${fmtCount(n)} subscribers, ${perTask} event(s) of ${size} B per task`);
  const raw = ctx.own(await spawnRaw('sse-broadcast', 'sse-broadcast.ts', []));
  const subscribers = ctx.own(
    await spawnSubscribers(
      ctx,
      'sse-subscribers-raw',
      scopes(n).map((scope) => ({ scope, url: `${raw.url}/sse?scope=${scope}`, headers: {} })),
    ),
  );
  // The same users in the same round-robin order as the submits, each task perTask times.
  const queue: { user: number; taskId: number }[] = [];
  const left = new Map(accepted);
  for (let taskId = 0; [...left.values()].some((c) => c > 0); ) {
    for (const user of KEY_USERS) {
      if (!left.get(user)) continue;
      left.set(user, (left.get(user) ?? 0) - 1);
      for (let k = 0; k < perTask; k++) queue.push({ user, taskId: ++taskId });
    }
  }
  const total = queue.length;
  const done = Promise.withResolvers<void>();
  const cpu0 = cpuMsOf(raw.pid);
  await openLoop(
    async () => {
      const next = queue.shift();
      if (!queue.length) done.resolve();
      if (!next) return 200;
      const res = await fetch(`${raw.url}/publish`, { method: 'POST', body: JSON.stringify({ ...next, size }) });
      await res.arrayBuffer();
      return res.status;
    },
    rate * perTask,
    done.promise,
    capMs,
  );
  // Every event has its own id here, so each subscriber should see all of its scope's events.
  const got = await drain(
    subscribers,
    (scope) => (scope === 'all' ? total : (accepted.get(Number(scope.slice(5))) ?? 0) * perTask),
    capMs,
  );
  const cpuMs = cpuMsOf(raw.pid) - cpu0;
  const events = sum(got.s, (x) => x.events);
  await Promise.all([subscribers.stop(), raw.stop()]);
  return { usPerEvent: (cpuMs * 1000) / Math.max(1, events), events, cpuMs };
}
