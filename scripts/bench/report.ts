/**
 * Results of one bench run: what each measure found, its verdict, and the table and JSON made of
 * them. Pure, so the unit test can check verdicts and formatting without running anything.
 */

/** How a measure is judged. Ratios are product / baseline, both measured in the same run. */
export type Goal =
  /** product / baseline at most `value` (times: lower is better). */
  | { kind: 'ratio-max'; value: number }
  /** product / baseline at least `value` (rates: higher is better). */
  | { kind: 'ratio-min'; value: number }
  /** product − baseline at most `value` (in the measure's unit). */
  | { kind: 'diff-max'; value: number }
  /** product at most `value` (in the measure's unit); the baseline is context. */
  | { kind: 'max'; value: number }
  /** product at most `offset` + `slope` × baseline; the score is product / that allowance. */
  | { kind: 'affine-max'; slope: number; offset: number }
  /** Shown for context, no verdict. */
  | { kind: 'info' };

export interface Measurement {
  /** Stable id, e.g. `listing.admin.channel_id`. */
  id: string;
  /** What a reader sees in the table. */
  label: string;
  /** Storage the product ran on: `sqlite`, or `postgres` for the rows of the `pg` group. */
  backend: string;
  product: number;
  baseline: number | null;
  /** Unit of product and baseline: `ms`, `req/s`, `MB`. */
  unit: string;
  /** What the baseline is, e.g. `same query at 10,000 tasks`. */
  baselineLabel: string;
  goal: Goal;
  note?: string;
}

export type Verdict = 'pass' | 'FAIL' | 'info' | 'error';

export interface ResultRow extends Measurement {
  /** product / baseline (or product − baseline for diff goals); null when not defined. */
  score: number | null;
  verdict: Verdict;
}

/** A measure that could not be taken: it still gets a row, so a broken measure is never silent. */
export function errorRow(id: string, label: string, backend: string, message: string): ResultRow {
  return {
    id,
    label,
    backend,
    product: Number.NaN,
    baseline: null,
    unit: '',
    baselineLabel: '',
    goal: { kind: 'info' },
    note: message,
    score: null,
    verdict: 'error',
  };
}

export function judge(m: Measurement): ResultRow {
  const { goal, product, baseline } = m;
  if (!Number.isFinite(product)) return { ...m, score: null, verdict: 'error' };
  const ratio = baseline !== null && Number.isFinite(baseline) && baseline > 0 ? product / baseline : null;
  switch (goal.kind) {
    case 'info':
      return { ...m, score: ratio, verdict: 'info' };
    case 'max':
      return { ...m, score: ratio, verdict: product <= goal.value ? 'pass' : 'FAIL' };
    case 'diff-max': {
      if (baseline === null || !Number.isFinite(baseline)) return { ...m, score: null, verdict: 'error' };
      const diff = product - baseline;
      return { ...m, score: diff, verdict: diff <= goal.value ? 'pass' : 'FAIL' };
    }
    case 'ratio-max':
      if (ratio === null) return { ...m, score: null, verdict: 'error' };
      return { ...m, score: ratio, verdict: ratio <= goal.value ? 'pass' : 'FAIL' };
    case 'affine-max': {
      if (baseline === null || !Number.isFinite(baseline)) return { ...m, score: null, verdict: 'error' };
      const allowed = goal.offset + goal.slope * baseline;
      return { ...m, score: product / allowed, verdict: product <= allowed ? 'pass' : 'FAIL' };
    }
    case 'ratio-min':
      if (ratio === null) return { ...m, score: null, verdict: 'error' };
      return { ...m, score: ratio, verdict: ratio >= goal.value ? 'pass' : 'FAIL' };
  }
}

/** 1234.5 → "1,235"; 12.345 → "12.3"; 0.1234 → "0.123". */
export function formatNumber(n: number): string {
  if (!Number.isFinite(n)) return '—';
  const abs = Math.abs(n);
  if (abs >= 1000) return Math.round(n).toLocaleString('en-US');
  if (abs >= 10) return n.toFixed(1);
  if (abs >= 1) return n.toFixed(2);
  return n.toFixed(3);
}

function withUnit(n: number | null, unit: string): string {
  return n === null ? '—' : `${formatNumber(n)} ${unit}`.trim();
}

export function formatGoal(goal: Goal, unit: string): string {
  switch (goal.kind) {
    case 'ratio-max':
      return `≤ ${goal.value}×`;
    case 'ratio-min':
      return `≥ ${goal.value}×`;
    case 'diff-max':
      return `≤ +${formatNumber(goal.value)} ${unit}`;
    case 'max':
      return `< ${formatNumber(goal.value)} ${unit}`;
    case 'affine-max':
      return `≤ ${formatNumber(goal.offset)} ${unit} + ${goal.slope}×`;
    case 'info':
      return '(context)';
  }
}

export function formatScore(row: ResultRow): string {
  if (row.score === null) return '—';
  if (row.goal.kind === 'diff-max') return `${row.score >= 0 ? '+' : ''}${formatNumber(row.score)} ${row.unit}`;
  if (row.goal.kind === 'affine-max') return `${formatNumber(row.score)}× of goal`;
  return `${formatNumber(row.score)}×`;
}

function shorten(text: string, max: number): string {
  const one = text.replace(/\s+/g, ' ').trim();
  return one.length <= max ? one : `${one.slice(0, max - 1)}…`;
}

export const TABLE_HEADER = ['measure', 'product', 'baseline', 'ratio', 'goal', 'verdict'] as const;

/** The rows as table cells, in TABLE_HEADER order. */
export function tableCells(rows: readonly ResultRow[]): string[][] {
  return rows.map((r) =>
    [
      r.backend === 'sqlite' ? r.label : `${r.label} [${r.backend}]`,
      r.verdict === 'error' ? '—' : withUnit(r.product, r.unit),
      r.baseline === null ? '—' : `${withUnit(r.baseline, r.unit)} (${r.baselineLabel})`,
      formatScore(r),
      r.verdict === 'error' ? '—' : formatGoal(r.goal, r.unit),
      r.verdict === 'error' ? `error: ${shorten(r.note ?? '', 100)}` : r.verdict,
    ].map((cell) => cell.replaceAll('|', '/')),
  );
}

/** A Markdown table (readable in a terminal, pasteable into the README). */
export function formatTable(rows: readonly ResultRow[]): string {
  const cells = [TABLE_HEADER.slice(), ...tableCells(rows)];
  const widths = TABLE_HEADER.map((_, c) => Math.max(...cells.map((row) => [...(row[c] ?? '')].length)));
  const line = (row: readonly string[]) =>
    `| ${row.map((cell, c) => cell + ' '.repeat((widths[c] ?? 0) - [...cell].length)).join(' | ')} |`;
  const rule = `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`;
  return [line(cells[0] ?? []), rule, ...cells.slice(1).map(line)].join('\n');
}

/** Context lines under the table (rounds, probe counts) for rows that carry a note. */
export function formatNotes(rows: readonly ResultRow[]): string {
  return rows
    .filter((r) => r.note && r.verdict !== 'error')
    .map((r) => `- ${r.label}: ${r.note}`)
    .join('\n');
}

export interface BenchReport {
  startedAt: string;
  quick: boolean;
  machine: Record<string, string | number>;
  sizes: { large: number; small: number };
  results: ResultRow[];
  summary: { pass: number; fail: number; error: number; info: number };
}

export function summarize(rows: readonly ResultRow[]): BenchReport['summary'] {
  const s = { pass: 0, fail: 0, error: 0, info: 0 };
  for (const r of rows) {
    if (r.verdict === 'pass') s.pass++;
    else if (r.verdict === 'FAIL') s.fail++;
    else if (r.verdict === 'error') s.error++;
    else s.info++;
  }
  return s;
}

/** JSON for `--out`: NaN is not JSON, so missing numbers become null. */
export function reportJson(report: BenchReport): string {
  return JSON.stringify(report, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2);
}
