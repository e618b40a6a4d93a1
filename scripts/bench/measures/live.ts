import type { BenchContext } from '../context.ts';
import type { Measurement } from '../report.ts';

export async function liveMeasures(_ctx: BenchContext): Promise<Measurement[]> {
  throw new Error('not built yet');
}
