import type { Subprocess } from 'bun';

/** A real gateway process (`bun src/index.ts`) and the lines of its stdout read so far. */
export interface GatewayProcess {
  proc: Subprocess<'ignore', 'pipe', 'pipe'>;
  /** Resolves with the first match of `re` in stdout, reading more as it arrives. */
  waitForOutput(re: RegExp, what: string): Promise<RegExpExecArray>;
  output(): string;
  /** SIGTERM and wait for the exit code. */
  stop(): Promise<number>;
}

const ROOT = new URL('../..', import.meta.url).pathname;

/** Spawns the server with exactly `env` (plus PATH), as `bun run start` would run it. */
export function spawnGateway(env: Record<string, string>): GatewayProcess {
  const proc = Bun.spawn(['bun', 'src/index.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'warn', ...env },
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const reader = proc.stdout.getReader();
  const decoder = new TextDecoder();
  let text = '';
  let ended = false;
  return {
    proc,
    output: () => text,
    async waitForOutput(re, what) {
      for (;;) {
        const m = re.exec(text);
        if (m) return m;
        if (ended)
          throw new Error(
            `process ended before printing ${what}; output:\n${text}\n${await new Response(proc.stderr).text()}`,
          );
        const chunk = await reader.read();
        if (chunk.done) ended = true;
        else text += decoder.decode(chunk.value, { stream: true });
      }
    },
    async stop() {
      proc.kill('SIGTERM');
      return proc.exited;
    },
  };
}
