import { join } from 'node:path';

/**
 * A PostgreSQL cluster of one test file's own, for tests that stop and start the server (outages,
 * reconnects) without disturbing the suite's shared server. About 2 s to start: one per file.
 */
const SCRIPT = join(import.meta.dir, '../../scripts/pg-cluster.sh');

export interface PrivateCluster {
  url: string;
  /** Stops the server (open connections are cut); the data stays. `immediate` crashes it (pg_ctl -m immediate). */
  halt(mode?: 'fast' | 'immediate'): void;
  /** Starts it again on the same port. */
  resume(): void;
  stop(): void;
}

function run(...args: string[]): string {
  const out = Bun.spawnSync(['bash', SCRIPT, ...args], {
    stderr: 'pipe',
    env: { ...process.env, MJ_PG_OWNER_PID: String(process.pid) },
  });
  if (out.exitCode !== 0) throw new Error(`pg-cluster.sh ${args[0]} failed: ${out.stderr.toString().trim()}`);
  return out.stdout.toString();
}

export function startPrivateCluster(): PrivateCluster {
  const vars = Object.fromEntries(
    run('start')
      .trim()
      .split('\n')
      .map((l) => l.split(/=(.*)/s).slice(0, 2) as [string, string]),
  );
  const dir = vars.PGDIR!;
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    Bun.spawnSync(['bash', SCRIPT, 'stop', dir]);
  };
  // Also when the file fails half-way: the cluster never outlives the test process.
  process.on('exit', stop);
  return {
    url: vars.DATABASE_URL!,
    halt: (mode = 'fast') => void run('halt', dir, mode),
    resume: () => void run('resume', dir),
    stop,
  };
}
