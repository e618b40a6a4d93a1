/**
 * `bun run bench` (SPEC §12): every performance measure against its baseline, measured side by
 * side in one run on this machine. Progress on stderr; the table on stdout; JSON with --out.
 */

import { writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { ArgError, HEAVY_GROUPS, type MeasureGroup, parseArgs, USAGE } from './args.ts';
import { BenchContext, settingsFor } from './context.ts';
import { fmtCount, progress } from './log.ts';
import { imageMeasures } from './measures/image.ts';
import { deepPageMeasures, listingMeasures, timeRangeMeasures } from './measures/listing.ts';
import { liveMeasures } from './measures/live.ts';
import { pgMeasures } from './measures/pg.ts';
import { pollerMeasures } from './measures/poller.ts';
import { pollerScaleMeasures } from './measures/poller-scale.ts';
import { pushMeasures } from './measures/push.ts';
import { retentionMeasures } from './measures/retention.ts';
import { storageMeasures } from './measures/storage.ts';
import { relayLatencyMeasures, submitMeasures } from './measures/submit.ts';
import { healthzMeasures, throughputMeasures } from './measures/throughput.ts';
import {
  type BenchReport,
  errorRow,
  formatNotes,
  formatTable,
  judge,
  type Measurement,
  type ResultRow,
  reportJson,
  summarize,
} from './report.ts';

const RUNNERS: Record<MeasureGroup, (ctx: BenchContext) => Promise<Measurement[]>> = {
  listing: listingMeasures,
  'deep-pages': deepPageMeasures,
  'time-range': timeRangeMeasures,
  throughput: throughputMeasures,
  poller: pollerMeasures,
  image: imageMeasures,
  submit: submitMeasures,
  'relay-latency': relayLatencyMeasures,
  healthz: healthzMeasures,
  storage: storageMeasures,
  'poller-scale': pollerScaleMeasures,
  live: liveMeasures,
  pg: pgMeasures,
  push: pushMeasures,
  retention: retentionMeasures,
};

function machine(): Record<string, string | number> {
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memory_gb: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    platform: `${process.platform} ${process.arch}`,
    bun: Bun.version,
    /** Other work on the machine during the run: the ratios are side by side, but noise still shows here. */
    load_average_at_start: loadavg()[0]?.toFixed(2) ?? '',
  };
}

async function main(): Promise<number> {
  let args: ReturnType<typeof parseArgs>;
  try {
    args = parseArgs(Bun.argv.slice(2));
  } catch (err) {
    if (!(err instanceof ArgError)) throw err;
    process.stderr.write(`${err.message}\n${USAGE}\n`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const settings = settingsFor(args.quick, args.rows);
  const ctx = new BenchContext(settings);
  const started = new Date();
  const t0 = performance.now();
  const m = machine();
  progress(`${args.quick ? 'quick' : 'full'} run: ${args.only.join(', ')} on ${m.cores} × ${m.cpu}, bun ${m.bun}`);
  const rows: ResultRow[] = [];
  try {
    for (const group of args.only) {
      const g0 = performance.now();
      try {
        for (const measurement of await RUNNERS[group](ctx)) rows.push(judge(measurement));
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        progress(`${group} failed: ${message}`);
        rows.push(errorRow(group, group, ctx.backend.name, message));
      }
      progress(`${group} done in ${((performance.now() - g0) / 1000).toFixed(1)} s`);
    }
  } finally {
    await ctx.close();
  }
  const report: BenchReport = {
    startedAt: started.toISOString(),
    quick: args.quick,
    machine: m,
    sizes: { large: settings.large, small: settings.small },
    results: rows,
    summary: summarize(rows),
  };
  m.load_average_at_end = loadavg()[0]?.toFixed(2) ?? '';
  const s = report.summary;
  const notes = formatNotes(rows);
  process.stdout.write(`\n${formatTable(rows)}\n\n${notes ? `${notes}\n\n` : ''}`);
  process.stdout.write(
    `${s.pass} pass, ${s.fail} fail, ${s.error} error, ${s.info} context · ${m.cores} × ${m.cpu}, ${m.memory_gb} GB, bun ${m.bun} · ` +
      `${fmtCount(settings.large)} vs ${fmtCount(settings.small)} tasks · load average ${m.load_average_at_start} → ${m.load_average_at_end} · ${((performance.now() - t0) / 1000).toFixed(0)} s\n`,
  );
  const apart = HEAVY_GROUPS.filter((g) => !args.only.includes(g));
  if (apart.length)
    process.stdout.write(`Run apart (not in the default run): bun run bench --only ${apart.join(',')} [--quick]\n`);
  if (args.out) {
    writeFileSync(args.out, `${reportJson(report)}\n`);
    progress(`wrote ${args.out}`);
  }
  return s.error ? 1 : 0;
}

process.exit(await main());
