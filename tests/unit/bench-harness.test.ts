import { describe, expect, test } from 'bun:test';
import { ArgError, DEFAULT_GROUPS, HEAVY_GROUPS, parseArgs, parseRows } from '../../scripts/bench/args.ts';
import { settingsFor } from '../../scripts/bench/context.ts';
import { median, openLoop, percentile, runLoad } from '../../scripts/bench/load.ts';
import {
  errorRow,
  formatNotes,
  formatTable,
  judge,
  type Measurement,
  reportJson,
  summarize,
} from '../../scripts/bench/report.ts';

/** The pure parts of `bun run bench` (the bench itself is never part of `bun test`). */

const base: Measurement = {
  id: 'x',
  label: 'x',
  backend: 'sqlite',
  product: 10,
  baseline: 8,
  unit: 'ms',
  baselineLabel: 'at 10,000',
  goal: { kind: 'ratio-max', value: 1.5 },
};

describe('bench arguments', () => {
  test('defaults run every group but the heavy ones, full size, no JSON file', () => {
    expect(parseArgs([])).toEqual({ quick: false, rows: null, only: [...DEFAULT_GROUPS], out: null, help: false });
    // PostgreSQL, 100,000-task poller ticks and 1,000 SSE subscribers: only when asked for.
    expect(HEAVY_GROUPS).toEqual(['poller-scale', 'live', 'pg', 'push', 'retention']);
    for (const g of HEAVY_GROUPS) expect(DEFAULT_GROUPS).not.toContain(g);
    expect(DEFAULT_GROUPS).toContain('storage');
    expect(parseArgs(['--only', 'pg,listing']).only).toEqual(['listing', 'pg']);
    expect(parseArgs(['--only', 'live,poller-scale']).only).toEqual(['poller-scale', 'live']);
  });

  test('--rows sets the large listing size, in plain digits or with k/M, with --quick too', () => {
    expect(parseArgs(['--rows', '5000000']).rows).toBe(5_000_000);
    expect(parseArgs(['--rows=10M']).rows).toBe(10_000_000);
    expect(parseArgs(['--rows', '250k', '--quick'])).toMatchObject({ rows: 250_000, quick: true });
    expect(parseRows('5_000_000')).toBe(5_000_000);
    expect(parseRows('2,500,000')).toBe(2_500_000);
    expect(parseRows('1.5M')).toBe(1_500_000);
    expect(settingsFor(false, 5_000_000)).toMatchObject({ large: 5_000_000, small: 10_000, rounds: 3 });
    expect(settingsFor(true, 5_000_000)).toMatchObject({ large: 5_000_000, small: 10_000, rounds: 2 });
    expect(settingsFor(false)).toMatchObject({ large: 1_000_000, small: 10_000 });
    expect(settingsFor(true)).toMatchObject({ large: 100_000, small: 10_000 });
  });

  test('--rows refuses what is not a whole number of tasks, or too few for the deep pages', () => {
    expect(() => parseArgs(['--rows', 'lots'])).toThrow('--rows needs a whole number of tasks');
    expect(() => parseArgs(['--rows', '1.2345k'])).toThrow('--rows needs a whole number of tasks');
    expect(() => parseArgs(['--rows', '-5'])).toThrow(ArgError);
    expect(() => parseArgs(['--rows', '10000'])).toThrow('--rows must be at least 50,000');
    expect(() => parseArgs(['--rows'])).toThrow('--rows needs a value');
  });

  test('--quick, --out and --only (a comma list, kept in run order) in both spellings', () => {
    expect(parseArgs(['--quick', '--only', 'poller,listing', '--out', 'r.json'])).toEqual({
      quick: true,
      rows: null,
      only: ['listing', 'poller'],
      out: 'r.json',
      help: false,
    });
    expect(parseArgs(['--only=image', '--out=x.json']).only).toEqual(['image']);
  });

  test('unknown groups, unknown flags and missing values are refused', () => {
    expect(() => parseArgs(['--only', 'listng'])).toThrow(ArgError);
    expect(() => parseArgs(['--fast'])).toThrow('unknown argument --fast');
    expect(() => parseArgs(['--out'])).toThrow('--out needs a value');
    expect(() => parseArgs(['--out', '--quick'])).toThrow('--out needs a value');
  });
});

describe('bench verdicts', () => {
  test('ratio goals compare product / baseline, at the boundary included', () => {
    expect(judge(base)).toMatchObject({ score: 1.25, verdict: 'pass' });
    expect(judge({ ...base, product: 12 }).verdict).toBe('pass');
    expect(judge({ ...base, product: 12.1 }).verdict).toBe('FAIL');
    const rate = { ...base, unit: 'req/s', goal: { kind: 'ratio-min', value: 0.7 } } as const;
    expect(judge({ ...rate, product: 700, baseline: 1000 }).verdict).toBe('pass');
    expect(judge({ ...rate, product: 699, baseline: 1000 }).verdict).toBe('FAIL');
  });

  test('difference and absolute goals', () => {
    const diff = { ...base, goal: { kind: 'diff-max', value: 1000 } } as const;
    expect(judge({ ...diff, product: 1900, baseline: 1000 })).toMatchObject({ score: 900, verdict: 'pass' });
    expect(judge({ ...diff, product: 2100, baseline: 1000 }).verdict).toBe('FAIL');
    const max = { ...base, unit: 'MB', goal: { kind: 'max', value: 50 } } as const;
    expect(judge({ ...max, product: 49, baseline: 300 }).verdict).toBe('pass');
    expect(judge({ ...max, product: 51, baseline: 1 }).verdict).toBe('FAIL');
  });

  test('an affine goal allows offset + slope × baseline, and reports the share of that allowance', () => {
    const affine = { ...base, goal: { kind: 'affine-max', slope: 1.5, offset: 1000 } } as const;
    expect(judge({ ...affine, product: 2500, baseline: 1000 })).toMatchObject({ score: 1, verdict: 'pass' });
    expect(judge({ ...affine, product: 2501, baseline: 1000 }).verdict).toBe('FAIL');
    expect(judge({ ...affine, baseline: null }).verdict).toBe('error');
    expect(formatTable([judge({ ...affine, product: 1250, baseline: 1000 })])).toContain(
      '| 0.500× of goal | ≤ 1,000 ms + 1.5× |',
    );
  });

  test('a missing or zero baseline, or a missing number, is an error, never a pass', () => {
    expect(judge({ ...base, baseline: 0 }).verdict).toBe('error');
    expect(judge({ ...base, baseline: null }).verdict).toBe('error');
    expect(judge({ ...base, product: Number.NaN }).verdict).toBe('error');
    expect(judge({ ...base, goal: { kind: 'info' } }).verdict).toBe('info');
  });
});

describe('bench table and JSON', () => {
  const rows = [
    judge(base),
    judge({
      ...base,
      id: 'p',
      label: 'poller tick',
      product: 1500.4,
      baseline: 1200,
      goal: { kind: 'diff-max', value: 1000 },
    }),
    errorRow('image', 'image', 'sqlite', 'simulator exited | code 1'),
  ];

  test('one aligned Markdown row per measure with product, baseline, ratio, goal, verdict', () => {
    const lines = formatTable(rows).split('\n');
    expect(lines[0]).toMatch(/^\| measure +\| product +\| baseline +\| ratio +\| goal +\| verdict +\|$/);
    expect(lines).toHaveLength(2 + rows.length);
    expect(new Set(lines.map((l) => [...l].length)).size).toBe(1);
    expect(lines[2]).toContain('| 10.0 ms ');
    expect(lines[2]).toContain('8.00 ms (at 10,000)');
    expect(lines[2]).toContain('1.25×');
    expect(lines[2]).toContain('≤ 1.5×');
    expect(lines[3]).toContain('+300.4 ms');
    expect(lines[3]).toContain('1,500 ms');
    expect(lines[4]).toContain('error: simulator exited / code 1');
    expect(lines[4]!.split('|')).toHaveLength(8);
  });

  test('the JSON carries every row, NaN as null, and the counts', () => {
    const json = JSON.parse(
      reportJson({
        startedAt: 't',
        quick: true,
        machine: { cores: 2 },
        sizes: { large: 100, small: 10 },
        results: rows,
        summary: summarize(rows),
      }),
    ) as { results: Array<{ product: number | null; verdict: string }>; summary: unknown };
    expect(json.results.map((r) => r.verdict)).toEqual(['pass', 'pass', 'error']);
    expect(json.results[2]?.product).toBeNull();
    expect(json.summary).toEqual({ pass: 2, fail: 0, error: 1, info: 0 });
  });
});

describe('bench load generator', () => {
  test('percentiles of unsorted samples', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(percentile([4, 1, 3, 2], 50)).toBe(2);
    expect(percentile([4, 1, 3, 2], 100)).toBe(4);
    expect(Number.isNaN(median([]))).toBe(true);
  });

  test('loops stop at the count cap and count statuses other than the expected one as errors', async () => {
    let calls = 0;
    const r = await runLoad(async () => (++calls % 4 === 0 ? 500 : 200), {
      concurrency: 3,
      durationMs: 10_000,
      maxCount: 40,
    });
    expect(calls).toBe(40);
    expect(r.errors).toBe(10);
    expect(r.count).toBe(30);
    expect(r.firstError).toBe('HTTP 500');
  });

  test('open loop: a stalled answer does not hold back later sends, and counts at the cap with status 0', async () => {
    let calls = 0;
    const never = Promise.withResolvers<number>();
    const stop = Promise.withResolvers<void>();
    const ex = () => {
      calls++;
      if (calls === 1) return never.promise;
      if (calls === 5) stop.resolve();
      return Promise.resolve(calls % 2 ? 200 : 503);
    };
    const out = await openLoop(ex, 1000, stop.promise, 50);
    // The first send never answers, yet sends 2 to 5 went out: arrivals do not wait for answers.
    expect(calls).toBe(5);
    expect(out).toHaveLength(5);
    expect(out.map((t) => t.status).sort()).toEqual([0, 200, 200, 503, 503]);
    const stalled = out.find((t) => t.status === 0);
    expect(stalled?.ms).toBeGreaterThan(0);
    // An answer arriving after the result was handed back does not change it.
    never.resolve(200);
    await Bun.sleep(0);
    expect(out).toHaveLength(5);
  });
});

describe('bench notes', () => {
  test('rows with a note get one context line under the table; error rows keep theirs in the table', () => {
    const rows = [
      judge({ ...base, label: 'poller tick', note: 'best of 3 rounds' }),
      judge(base),
      errorRow('image', 'image', 'sqlite', 'boom'),
    ];
    expect(formatNotes(rows)).toBe('- poller tick: best of 3 rounds');
  });
});
