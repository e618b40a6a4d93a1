/** Command line of `bun run bench` (pure: parsed from an argv array, so unit tests can drive it). */

/** Measure groups, in run order; `--only` takes these names. */
export const MEASURE_GROUPS = [
  'listing',
  'deep-pages',
  'time-range',
  'throughput',
  'poller',
  'image',
  'submit',
  'relay-latency',
  'healthz',
  'storage',
  'poller-scale',
  'live',
  'pg',
  'push',
  'retention',
] as const;
export type MeasureGroup = (typeof MEASURE_GROUPS)[number];

/**
 * Groups that run only when named with --only: `pg` starts its own PostgreSQL cluster and seeds
 * it; `poller-scale` submits 40,000 and 100,000 tasks to 20 simulators; `live` holds 1,000 SSE
 * subscribers under a steady submit load; `push` waits out 15 s poll intervals to compare upstream
 * push with polling; `retention` removes 200,000 seeded tasks (a fresh copy each round) while
 * /healthz is probed. Each would push the full run well past its minutes.
 */
export const HEAVY_GROUPS: readonly MeasureGroup[] = ['poller-scale', 'live', 'pg', 'push', 'retention'];

/** Groups of a run without --only. */
export const DEFAULT_GROUPS: readonly MeasureGroup[] = MEASURE_GROUPS.filter((g) => !HEAVY_GROUPS.includes(g));

/** Fewest tasks --rows takes: the deep-page shapes read page 2,000 of 20 rows. */
export const MIN_ROWS = 50_000;

export interface BenchArgs {
  quick: boolean;
  /** Tasks of the large listing size (--rows); null keeps the default (1,000,000, or 100,000 with --quick). */
  rows: number | null;
  only: MeasureGroup[];
  out: string | null;
  help: boolean;
}

export class ArgError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ArgError';
  }
}

export const USAGE = `usage: bun run bench [--quick] [--rows N] [--only <group>[,<group>...]] [--out <file.json>]
  --quick   small data (100,000 tasks) and short runs: under a minute
  --rows    tasks of the large listing size (listing, deep-pages, time-range, throughput, healthz,
            storage), e.g. 5000000, 5M, 10M; compared with 10,000 as always. Seeds are cached.
  --only    run only these measure groups: ${MEASURE_GROUPS.join(', ')}
            (${HEAVY_GROUPS.join(', ')} run only when named, e.g. --only live)
  --out     also write the results as JSON to this file`;

/** "5000000", "5_000_000", "5,000,000", "5M", "250k" → a whole number of tasks. */
export function parseRows(text: string): number {
  const m = /^(\d[\d_,]*(?:\.\d+)?)([kKmM]?)$/.exec(text.trim());
  const n = m?.[1]
    ? Number(m[1].replace(/[_,]/g, '')) * (m[2] ? (m[2].toLowerCase() === 'k' ? 1e3 : 1e6) : 1)
    : Number.NaN;
  if (!Number.isInteger(n))
    throw new ArgError(`--rows needs a whole number of tasks (e.g. 5000000 or 5M), got ${text}`);
  if (n < MIN_ROWS)
    throw new ArgError(`--rows must be at least ${MIN_ROWS.toLocaleString('en-US')}, got ${n.toLocaleString('en-US')}`);
  return n;
}

function isGroup(name: string): name is MeasureGroup {
  return (MEASURE_GROUPS as readonly string[]).includes(name);
}

/** Parses `argv` (without the runtime and script); throws ArgError on anything unknown. */
export function parseArgs(argv: readonly string[]): BenchArgs {
  const args: BenchArgs = { quick: false, rows: null, only: [...DEFAULT_GROUPS], out: null, help: false };
  for (let i = 0; i < argv.length; i++) {
    const raw = argv[i] ?? '';
    const eq = raw.indexOf('=');
    const flag = raw.startsWith('--') && eq > 0 ? raw.slice(0, eq) : raw;
    const inline = raw.startsWith('--') && eq > 0 ? raw.slice(eq + 1) : undefined;
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '' || (inline === undefined && v.startsWith('--')))
        throw new ArgError(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--quick':
        args.quick = true;
        break;
      case '--help':
      case '-h':
        args.help = true;
        break;
      case '--out':
        args.out = value();
        break;
      case '--rows':
        args.rows = parseRows(value());
        break;
      case '--only': {
        const names = value()
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
        const unknown = names.filter((n) => !isGroup(n));
        if (unknown.length)
          throw new ArgError(`unknown measure group ${unknown.join(', ')} (known: ${MEASURE_GROUPS.join(', ')})`);
        const wanted = new Set(names);
        args.only = MEASURE_GROUPS.filter((g) => wanted.has(g));
        break;
      }
      default:
        throw new ArgError(`unknown argument ${raw}`);
    }
  }
  return args;
}
