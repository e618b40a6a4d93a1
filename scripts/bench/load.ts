/**
 * The load generator: sequential latency samples and concurrent fetch loops, every loop bounded
 * by a count and a time. Everything goes to loopback servers the bench started itself.
 */

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx] ?? Number.NaN;
}

export const median = (values: readonly number[]) => percentile(values, 50);

/** One HTTP exchange: resolves to the status after the body was read in full. */
export type Exchange = () => Promise<number>;

export function getter(url: string, headers: Record<string, string> = {}): Exchange {
  return async () => {
    const res = await fetch(url, { headers });
    await res.arrayBuffer();
    return res.status;
  };
}

export function poster(url: string, headers: Record<string, string>, body: () => unknown): Exchange {
  return async () => {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body()),
    });
    await res.arrayBuffer();
    return res.status;
  };
}

export class BadStatusError extends Error {}

async function timed(ex: Exchange, okStatus: number): Promise<number> {
  const t0 = performance.now();
  const status = await ex();
  const ms = performance.now() - t0;
  if (status !== okStatus) throw new BadStatusError(`HTTP ${status}`);
  return ms;
}

export interface SampleOptions {
  /** Most samples taken. */
  maxCount: number;
  /** Stop sampling after this long (at least minCount samples are taken anyway). */
  maxMs: number;
  minCount?: number;
  warmup?: number;
  okStatus?: number;
}

/** Sequential round trips, one at a time: latencies in ms. Throws on a status other than okStatus. */
export async function sampleLatency(ex: Exchange, opts: SampleOptions): Promise<number[]> {
  const ok = opts.okStatus ?? 200;
  for (let i = 0; i < (opts.warmup ?? 3); i++) await timed(ex, ok);
  const out: number[] = [];
  const deadline = performance.now() + opts.maxMs;
  const minCount = Math.min(opts.minCount ?? 5, opts.maxCount);
  while (out.length < opts.maxCount && (out.length < minCount || performance.now() < deadline))
    out.push(await timed(ex, ok));
  return out;
}

export interface LoadResult {
  count: number;
  errors: number;
  elapsedMs: number;
  /** Completed exchanges per second. */
  rate: number;
  latencies: number[];
  firstError: string | null;
}

export interface LoadOptions {
  concurrency: number;
  durationMs: number;
  /** Hard cap on exchanges, whatever the duration. */
  maxCount: number;
  okStatus?: number;
  /** Ends early when it resolves (e.g. a 1 GB stream finished). */
  until?: Promise<unknown>;
}

/** `concurrency` loops, each sending one exchange after the other, until time or count runs out. */
export async function runLoad(ex: Exchange, opts: LoadOptions): Promise<LoadResult> {
  const ok = opts.okStatus ?? 200;
  let started = 0;
  let errors = 0;
  let firstError: string | null = null;
  let stop = false;
  void opts.until?.then(() => {
    stop = true;
  });
  const latencies: number[] = [];
  const t0 = performance.now();
  const deadline = t0 + opts.durationMs;
  const loop = async () => {
    while (!stop && started < opts.maxCount && performance.now() < deadline) {
      started++;
      try {
        latencies.push(await timed(ex, ok));
      } catch (err) {
        errors++;
        firstError ??= err instanceof Error ? err.message : String(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, opts.concurrency) }, loop));
  const elapsedMs = performance.now() - t0;
  return {
    count: latencies.length,
    errors,
    elapsedMs,
    rate: (latencies.length / elapsedMs) * 1000,
    latencies,
    firstError,
  };
}

/**
 * Side-by-side latency of several exchanges: in each round every exchange gets one block of
 * sequential samples, in turn; its result is the lowest block median. Alternating blocks and
 * keeping the best one keep bursts of unrelated load on a shared machine from deciding a ratio.
 */
export async function bestLatencies(
  exchanges: readonly Exchange[],
  rounds: number,
  block: SampleOptions,
): Promise<number[]> {
  const best = exchanges.map(() => Number.POSITIVE_INFINITY);
  for (let r = 0; r < Math.max(1, rounds); r++) {
    for (const [i, ex] of exchanges.entries()) {
      const m = median(await sampleLatency(ex, { ...block, warmup: r === 0 ? (block.warmup ?? 3) : 1 }));
      best[i] = Math.min(best[i] ?? m, m);
    }
  }
  return best;
}

/** Side-by-side rates: each round runs every exchange's load in turn; each keeps its best round. */
export async function bestRates(
  exchanges: readonly Exchange[],
  rounds: number,
  opts: LoadOptions,
  onRound?: (i: number, r: LoadResult) => void,
): Promise<LoadResult[]> {
  const best: Array<LoadResult | null> = exchanges.map(() => null);
  for (let r = 0; r < Math.max(1, rounds); r++) {
    for (const [i, ex] of exchanges.entries()) {
      const result = await runLoad(ex, opts);
      if (result.errors) throw new BadStatusError(`${result.errors} failed requests (${result.firstError})`);
      onRound?.(i, result);
      const prev = best[i];
      if (!prev || result.rate > prev.rate) best[i] = result;
    }
  }
  return best.map((b) => {
    if (!b) throw new Error('no load round ran');
    return b;
  });
}

export interface Timed {
  /** performance.now() when the exchange was sent. */
  at: number;
  /** Round trip in ms (until `capMs` for one still open at the end). */
  ms: number;
  status: number;
}

/**
 * Open-loop load: one exchange every 1000/rate ms whether or not earlier ones answered (a slow
 * server cannot slow the arrivals down, as with real users), until `stop` resolves. Then waits
 * for the open ones at most `capMs`; one still open counts at its age then, with status 0.
 */
export async function openLoop(ex: Exchange, rate: number, stop: Promise<unknown>, capMs: number): Promise<Timed[]> {
  const out: Timed[] = [];
  const open = new Map<Promise<void>, number>();
  let stopped = false;
  void stop.then(() => {
    stopped = true;
  });
  const t0 = performance.now();
  for (let k = 0; !stopped; k++) {
    const wait = t0 + (k * 1000) / rate - performance.now();
    if (wait > 0) await Bun.sleep(wait);
    if (stopped) break;
    const at = performance.now();
    const p: Promise<void> = ex()
      .then(
        (status) => status,
        () => -1,
      )
      .then((status) => {
        if (open.delete(p)) out.push({ at, ms: performance.now() - at, status });
      });
    open.set(p, at);
  }
  const cap = Promise.withResolvers<void>();
  const timer = setTimeout(cap.resolve, capMs);
  await Promise.race([Promise.all(open.keys()), cap.promise]);
  clearTimeout(timer);
  const end = performance.now();
  for (const at of open.values()) out.push({ at, ms: end - at, status: 0 });
  open.clear();
  return out;
}
