import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchContext } from '../context.ts';
import { cpuMsOf, treeCpuMs } from '../cpu.ts';
import { type Exchange, runLoad } from '../load.ts';
import { fmtCount, progress } from '../log.ts';
import type { PgCluster } from '../pg-seed.ts';
import type { Child } from '../procs.ts';
import type { Measurement } from '../report.ts';

/**
 * CPU per accepted relay submit (issue 15 point 3), from /proc: the gateway process of one
 * PostgreSQL replica, the PostgreSQL server (postmaster and its backends), and the SQLite
 * product's process under the same load for comparison.
 */

function postmasterPid(cluster: PgCluster): number {
  const pid = Number(readFileSync(join(cluster.dir, 'data/postmaster.pid'), 'utf8').split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`no postmaster pid in ${cluster.dir}/data/postmaster.pid`);
  return pid;
}

interface CpuRun {
  accepted: number;
  processMs: number;
  serverMs: number;
}

/**
 * At least this long, even with --quick: /proc counts in 10 ms ticks per process, and the server is
 * a dozen processes, so a shorter window (a few hundred submits) moves by tenths of a millisecond.
 */
const MIN_CPU_WINDOW_MS = 3000;

async function measured(ctx: BenchContext, ex: Exchange, pid: number, serverPid: number | null): Promise<CpuRun> {
  const { concurrency, loadMs } = ctx.settings;
  const p0 = cpuMsOf(pid);
  const s0 = serverPid === null ? 0 : treeCpuMs(serverPid);
  const r = await runLoad(ex, { concurrency, durationMs: Math.max(loadMs, MIN_CPU_WINDOW_MS), maxCount: 100_000 });
  if (r.errors) throw new Error(`${r.errors} failed submits (${r.firstError})`);
  return {
    accepted: r.count,
    processMs: cpuMsOf(pid) - p0,
    serverMs: serverPid === null ? Number.NaN : treeCpuMs(serverPid) - s0,
  };
}

export async function pgCpuRows(
  ctx: BenchContext,
  cluster: PgCluster,
  pg: { child: Child; submit: Exchange },
  lite: { child: Child; submit: Exchange },
  users: number,
): Promise<Measurement[]> {
  const { concurrency } = ctx.settings;
  progress(`pg: CPU per submit from /proc, ${concurrency} clients, ${users} users`);
  const server = postmasterPid(cluster);
  const onPg = await measured(ctx, pg.submit, pg.child.pid, server);
  const onLite = await measured(ctx, lite.submit, lite.child.pid, null);
  const per = (ms: number, n: number) => ms / Math.max(1, n);
  progress(
    `  PostgreSQL: ${fmtCount(onPg.accepted)} submits, gateway ${onPg.processMs.toFixed(0)} ms, server ${onPg.serverMs.toFixed(0)} ms; SQLite: ${fmtCount(onLite.accepted)} submits, ${onLite.processMs.toFixed(0)} ms`,
  );
  const row = (m: Omit<Measurement, 'backend'>): Measurement => ({ ...ctx.measurement(m), backend: 'postgres' });
  return [
    row({
      id: 'pg.submit.gateway-cpu',
      label: 'gateway CPU per accepted submit (/proc)',
      product: per(onPg.processMs, onPg.accepted),
      baseline: per(onLite.processMs, onLite.accepted),
      unit: 'ms',
      baselineLabel: 'SQLite product, same load',
      goal: { kind: 'max', value: 1.5 },
      note: `${fmtCount(onPg.accepted)} submits by ${concurrency} clients on one replica`,
    }),
    row({
      id: 'pg.submit.server-cpu',
      label: 'PostgreSQL server CPU per accepted submit (/proc)',
      product: per(onPg.serverMs, onPg.accepted),
      baseline: null,
      unit: 'ms',
      baselineLabel: '',
      goal: { kind: 'max', value: 2 },
      note: 'postmaster and its backends (pooled connections, alive over the whole run)',
    }),
  ];
}
