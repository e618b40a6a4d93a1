import { describe, expect, test } from 'bun:test';
import { cpuMsOf, treeCpuMs } from '../../scripts/bench/cpu.ts';

/** The bench's CPU rows read /proc: a process's time grows with its work, a tree includes its children. */

describe('bench CPU from /proc', () => {
  test("/proc agrees with the process's own CPU count; a gone process is NaN", () => {
    const before = cpuMsOf(process.pid);
    const own0 = process.cpuUsage();
    let x = 0;
    // Work until the process itself counts 200 ms of CPU (however long a busy machine takes).
    while ((process.cpuUsage(own0).user + process.cpuUsage(own0).system) / 1000 < 200) x += Math.sqrt(x + 1);
    expect(x).toBeGreaterThan(0);
    // /proc counts in clock ticks (10 ms): allow two of them.
    expect(cpuMsOf(process.pid) - before).toBeGreaterThanOrEqual(180);
    expect(cpuMsOf(2 ** 22 + 12345)).toBeNaN();
  });

  test("a tree's time counts a busy child", async () => {
    const script =
      'let x = 0; while (process.cpuUsage().user < 300_000) x++; console.log("done"); await Bun.sleep(30_000);';
    const child = Bun.spawn([process.execPath, '-e', script], { stdout: 'pipe' });
    try {
      const reader = child.stdout.getReader();
      let out = '';
      while (!out.includes('done')) out += new TextDecoder().decode((await reader.read()).value);
      const childMs = cpuMsOf(child.pid);
      expect(childMs).toBeGreaterThanOrEqual(280);
      const own = cpuMsOf(process.pid);
      // A millionth of a ms of slack: the sums of tick fractions round differently (969.99999… vs 970).
      expect(treeCpuMs(process.pid) - own).toBeGreaterThanOrEqual(childMs - 1e-6);
    } finally {
      child.kill();
    }
  }, 30_000);
});
