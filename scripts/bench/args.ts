/** Command line of `bun run bench` (pure: parsed from an argv array, so unit tests can drive it). */

/** Measure groups, in run order; `--only` takes these names. */
export const MEASURE_GROUPS = [
  'listing', 'deep-pages', 'time-range', 'throughput', 'poller', 'image', 'submit', 'relay-latency', 'healthz', 'pg',
] as const;
export type MeasureGroup = (typeof MEASURE_GROUPS)[number];

/**
 * Groups of a run without --only. `pg` is left out: it starts its own PostgreSQL cluster and
 * seeds it, which would push the full run well past its ~5 minutes; it runs with `--only pg`.
 */
export const DEFAULT_GROUPS: readonly MeasureGroup[] = MEASURE_GROUPS.filter((g) => g !== 'pg');

export interface BenchArgs {
  quick: boolean;
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

export const USAGE = `usage: bun run bench [--quick] [--only <group>[,<group>...]] [--out <file.json>]
  --quick   small data (100,000 tasks) and short runs: under a minute
  --only    run only these measure groups: ${MEASURE_GROUPS.join(', ')}
            (pg, the PostgreSQL rows, runs only when named: --only pg)
  --out     also write the results as JSON to this file`;

function isGroup(name: string): name is MeasureGroup {
  return (MEASURE_GROUPS as readonly string[]).includes(name);
}

/** Parses `argv` (without the runtime and script); throws ArgError on anything unknown. */
export function parseArgs(argv: readonly string[]): BenchArgs {
  const args: BenchArgs = { quick: false, only: [...DEFAULT_GROUPS], out: null, help: false };
  for (let i = 0; i < argv.length; i++) {
    const raw = argv[i] ?? '';
    const eq = raw.indexOf('=');
    const flag = raw.startsWith('--') && eq > 0 ? raw.slice(0, eq) : raw;
    const inline = raw.startsWith('--') && eq > 0 ? raw.slice(eq + 1) : undefined;
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '' || (inline === undefined && v.startsWith('--'))) throw new ArgError(`${flag} needs a value`);
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
      case '--only': {
        const names = value().split(',').map((s) => s.trim()).filter(Boolean);
        const unknown = names.filter((n) => !isGroup(n));
        if (unknown.length) throw new ArgError(`unknown measure group ${unknown.join(', ')} (known: ${MEASURE_GROUPS.join(', ')})`);
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
