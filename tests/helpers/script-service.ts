import { join } from 'node:path';

/**
 * A test server started by one of the repo's scripts (`scripts/pg-cluster.sh`, `scripts/s3-server.sh`)
 * for a file run alone: `<script> start` prints KEY=VALUE lines, and `<script> stop <dir>` stops
 * it when the test process ends (the `dirKey` line names the folder). `ownerVar` hands the script
 * this process's pid: a killed test process, which runs no exit hook, still takes its server along.
 */
export function startScriptService(
  script: string,
  ownerVar: string,
  dirKey: string,
  what: string,
): Record<string, string> {
  const path = join(import.meta.dir, '../../scripts', script);
  const out = Bun.spawnSync(['bash', path, 'start'], {
    stderr: 'inherit',
    env: { ...process.env, [ownerVar]: String(process.pid) },
  });
  if (out.exitCode !== 0) throw new Error(`could not start ${what} (scripts/${script} start)`);
  const vars: Record<string, string> = Object.fromEntries(
    out.stdout
      .toString()
      .trim()
      .split('\n')
      .map((l) => l.split(/=(.*)/s).slice(0, 2) as [string, string]),
  );
  // Stopped when the test process ends (a hook registered here would belong to one test).
  process.on('exit', () => {
    Bun.spawnSync(['bash', path, 'stop', vars[dirKey] ?? '']);
  });
  return vars;
}
