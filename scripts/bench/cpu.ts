import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU time of processes from Linux /proc, for the "CPU per submit / per event" rows: measured
 * from outside the process, so the product's own code cannot flatter itself.
 */

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ). */
const TICKS_PER_S = (() => {
  const r = Bun.spawnSync(['getconf', 'CLK_TCK'], { stdout: 'pipe', stderr: 'ignore' });
  const n = Number(r.stdout.toString().trim());
  return Number.isFinite(n) && n > 0 ? n : 100;
})();

interface ProcStat {
  ppid: number;
  /** utime + stime, in ms. */
  cpuMs: number;
}

function procStat(pid: number): ProcStat | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: split after its closing one.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const ppid = Number(fields[1]);
    const ticks = Number(fields[11]) + Number(fields[12]);
    return { ppid, cpuMs: (ticks / TICKS_PER_S) * 1000 };
  } catch {
    return null;
  }
}

/** User + system CPU a process has used so far, in ms (NaN when it is gone). */
export function cpuMsOf(pid: number): number {
  return procStat(pid)?.cpuMs ?? Number.NaN;
}

/**
 * CPU of a process and all its live children (a PostgreSQL postmaster and its backends), in ms.
 * Children that exit in between take their time with them: measure over pooled connections.
 */
export function treeCpuMs(rootPid: number): number {
  const stats = new Map<number, ProcStat>();
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    const s = procStat(pid);
    if (s) stats.set(pid, s);
  }
  let total = 0;
  const inTree = (pid: number): boolean => {
    for (let p = pid, hops = 0; p > 1 && hops < 10; hops++) {
      if (p === rootPid) return true;
      p = stats.get(p)?.ppid ?? 0;
    }
    return false;
  };
  for (const [pid, s] of stats) if (inTree(pid)) total += s.cpuMs;
  return stats.has(rootPid) ? total : Number.NaN;
}

/** Busy and total jiffies of all CPUs so far (Linux /proc/stat), to tell a CPU-bound machine. */
export function cpuTimes(): { busy: number; total: number } {
  try {
    const f = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
    const total = f.reduce((a, b) => a + b, 0);
    return { busy: total - (f[3] ?? 0) - (f[4] ?? 0), total };
  } catch {
    return { busy: Number.NaN, total: Number.NaN };
  }
}
