import { Database } from 'bun:sqlite';
import type { BenchContext } from '../context.ts';
import { bestLatencies, type Exchange, getter } from '../load.ts';
import { fmtCount, progress } from '../log.ts';
import type { Child } from '../procs.ts';
import type { Measurement } from '../report.ts';
import { deepShapes, filterShapes, rangeShapes, type Shape } from './shapes.ts';

/**
 * Listing measures of SPEC §12: page 1 at the large size vs the small one for every documented
 * listing and filter, deep pages vs page 1, and a time range alone vs page 1. Each is the median
 * of sequential round trips on loopback (absolute times are context; verdicts use ratios).
 */

/** The total a range shape must answer, counted straight from the file. */
function expectedTotal(dbPath: string, range: NonNullable<Shape['range']>): number {
  const db = new Database(dbPath, { readonly: true });
  try {
    const sql = `SELECT count(*) AS n FROM tasks WHERE submit_time >= ? AND submit_time <= ?${range.userId !== undefined ? ' AND user_id = ?' : ''}`;
    const args = range.userId !== undefined ? [range.start, range.end, range.userId] : [range.start, range.end];
    return db.query<{ n: number }, number[]>(sql).get(...args)?.n ?? -1;
  } finally {
    db.close();
  }
}

/** Fails loudly when the product answers something else than a page of the right total. */
async function check(ctx: BenchContext, product: Child, shape: Shape, tasks: number): Promise<void> {
  const res = await fetch(product.url + shape.path, { headers: shape.headers });
  const body = (await res.json()) as {
    success?: boolean;
    message?: string;
    data?: { total?: number; items?: unknown[] };
  };
  if (res.status !== 200 || body.success !== true)
    throw new Error(`${shape.path}: HTTP ${res.status} ${body.message ?? ''}`);
  // A fast empty page is no result: the page must hold what the total says it holds.
  const q = new URL(shape.path, 'http://x').searchParams;
  const page = Number(q.get('p') ?? 1);
  const size = Math.min(100, Number(q.get('page_size') ?? 20));
  const total = body.data?.total ?? -1;
  const wantItems = Math.max(0, Math.min(size, total - (page - 1) * size));
  if (body.data?.items?.length !== wantItems)
    throw new Error(`${shape.path}: ${body.data?.items?.length} items on a page of ${total} (want ${wantItems})`);
  if (shape.range) {
    const want = expectedTotal(ctx.database(tasks), shape.range);
    if (body.data?.total !== want) throw new Error(`${shape.path}: total ${body.data?.total}, the table holds ${want}`);
  }
}

/** The exchange of a shape on a product, once its answer was checked. */
export async function checked(ctx: BenchContext, product: Child, shape: Shape, size: number): Promise<Exchange> {
  await check(ctx, product, shape, size);
  return getter(product.url + shape.path, shape.headers);
}

/** Best-round median round trips (ms) of several exchanges measured side by side. */
function compare(ctx: BenchContext, exchanges: Exchange[]): Promise<number[]> {
  const s = ctx.settings;
  return bestLatencies(exchanges, s.rounds, { maxCount: s.latencyCount, maxMs: s.latencyMs, minCount: 3 });
}

export async function listingMeasures(ctx: BenchContext): Promise<Measurement[]> {
  const { large, small } = ctx.settings;
  const [big, little] = await Promise.all([ctx.listingProduct(large), ctx.listingProduct(small)]);
  const out: Measurement[] = [];
  for (const shape of filterShapes(large)) {
    progress(`listing ${shape.label}: ${fmtCount(large)} vs ${fmtCount(small)} tasks`);
    const smallShape = filterShapes(small).find((s) => s.id === shape.id) ?? shape;
    const [atLarge = NaN, atSmall = NaN] = await compare(ctx, [
      await checked(ctx, big, shape, large),
      await checked(ctx, little, smallShape, small),
    ]);
    out.push(
      ctx.measurement({
        id: `listing.${shape.id}`,
        label: `${shape.label} at ${fmtCount(large)}`,
        product: atLarge,
        baseline: atSmall,
        unit: 'ms',
        baselineLabel: `at ${fmtCount(small)}`,
        goal: { kind: 'ratio-max', value: 1.5 },
      }),
    );
  }
  return out;
}

export async function deepPageMeasures(ctx: BenchContext): Promise<Measurement[]> {
  const { large } = ctx.settings;
  const big = await ctx.listingProduct(large);
  const out: Measurement[] = [];
  for (const { deep, first } of deepShapes()) {
    progress(`deep page ${deep.label} vs page 1 at ${fmtCount(large)}`);
    const [deepMs = NaN, firstMs = NaN] = await compare(ctx, [
      await checked(ctx, big, deep, large),
      await checked(ctx, big, first, large),
    ]);
    out.push(
      ctx.measurement({
        id: `listing.${deep.id}`,
        label: `${deep.label} at ${fmtCount(large)}`,
        product: deepMs,
        baseline: firstMs,
        unit: 'ms',
        baselineLabel: 'page 1',
        goal: { kind: 'ratio-max', value: 5 },
      }),
    );
  }
  return out;
}

export async function timeRangeMeasures(ctx: BenchContext): Promise<Measurement[]> {
  const { large } = ctx.settings;
  const big = await ctx.listingProduct(large);
  const first = filterShapes(large).find((s) => s.id === 'all');
  if (!first) throw new Error('no page-1 shape');
  const ranges = rangeShapes(large);
  progress(`time range alone (${ranges.length} widths) vs page 1 at ${fmtCount(large)}`);
  const exchanges = [await checked(ctx, big, first, large)];
  for (const shape of ranges) exchanges.push(await checked(ctx, big, shape, large));
  const [firstMs = NaN, ...rangeMs] = await compare(ctx, exchanges);
  return ranges.map((shape, i) =>
    ctx.measurement({
      id: `listing.${shape.id}`,
      label: `${shape.label} (with total) at ${fmtCount(large)}`,
      product: rangeMs[i] ?? NaN,
      baseline: firstMs,
      unit: 'ms',
      baselineLabel: 'page 1',
      goal: { kind: 'ratio-max', value: 2 },
    }),
  );
}

/** Every listing shape at the large size, for picking the heaviest one. */
export function allShapes(total: number): Shape[] {
  return [...filterShapes(total), ...deepShapes().map((d) => d.deep), ...rangeShapes(total)];
}
