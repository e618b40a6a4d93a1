import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Subprocess } from 'bun';

/**
 * Child processes of the bench: the product, the simulators and the raw ceiling servers, each its
 * own process on a free loopback port (port 0, the chosen address read from its first lines).
 */

export const REPO_ROOT = join(import.meta.dir, '../..');

export interface Child {
  name: string;
  pid: number;
  /** Base URL, e.g. http://127.0.0.1:40123 */
  url: string;
  /** Resident memory now, in MB (Linux /proc). */
  rssMb(): number;
  stop(): Promise<void>;
}

const running = new Set<Subprocess>();

/** Kill what this bench started, by pid, when it exits in any way. */
function killAll(): void {
  for (const p of running) {
    try {
      p.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  running.clear();
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    killAll();
    process.exit(130);
  });
}

export function rssMbOf(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m?.[1] ? Number(m[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** Reads a stream line by line forever (so the child never blocks on a full pipe), keeping the tail. */
function drain(stream: ReadableStream<Uint8Array>, tail: string[], onLine: (line: string) => void): void {
  void (async () => {
    const decoder = new TextDecoder();
    let buf = '';
    try {
      for await (const chunk of stream) {
        buf += decoder.decode(chunk, { stream: true });
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          tail.push(line);
          if (tail.length > 30) tail.shift();
          onLine(line);
        }
      }
    } catch {
      // the child went away
    }
  })();
}

export interface SpawnOptions {
  name: string;
  /** Script path relative to the repo root, run with this same bun binary. */
  script: string;
  args?: string[];
  env?: Record<string, string>;
  /** Group 1 is the base URL the child listens on. */
  ready: RegExp;
  timeoutMs?: number;
}

export async function spawnServer(opts: SpawnOptions): Promise<Child> {
  const proc = Bun.spawn([process.execPath, opts.script, ...(opts.args ?? [])], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...opts.env },
    stdout: 'pipe',
    stderr: 'pipe',
    stdin: 'ignore',
  });
  running.add(proc);
  const tail: string[] = [];
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${opts.name} did not start within ${opts.timeoutMs ?? 30000} ms: ${tail.join(' | ')}`)),
      opts.timeoutMs ?? 30_000,
    );
    const onLine = (line: string) => {
      const m = opts.ready.exec(line);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(m[1].replace(/\/+$/, ''));
      }
    };
    drain(proc.stdout, tail, onLine);
    drain(proc.stderr, tail, onLine);
    void proc.exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${opts.name} exited with code ${code}: ${tail.join(' | ')}`));
    });
  }).catch((err: unknown) => {
    proc.kill('SIGKILL');
    running.delete(proc);
    throw err;
  });
  return {
    name: opts.name,
    pid: proc.pid,
    url,
    rssMb: () => rssMbOf(proc.pid),
    async stop() {
      if (!running.has(proc)) return;
      running.delete(proc);
      proc.kill('SIGTERM');
      const done = await Promise.race([proc.exited.then(() => true), Bun.sleep(5000).then(() => false)]);
      if (!done) proc.kill('SIGKILL');
    },
  };
}

export const LISTENING = /listening on (http:\/\/[^\s"]+)/;

export interface ProductOptions {
  name: string;
  databasePath: string;
  rootToken: string;
  imageCacheDir: string;
  extraEnv?: Record<string, string>;
}

/** The product as users run it: `bun src/index.ts`, configured by environment only. */
export function spawnProduct(o: ProductOptions): Promise<Child> {
  return spawnServer({
    name: o.name,
    script: 'src/index.ts',
    ready: /mj-gateway listening on (http:\/\/\S+)/,
    env: {
      PORT: '0',
      HOST: '127.0.0.1',
      DATABASE_PATH: o.databasePath,
      INITIAL_ROOT_ACCESS_TOKEN: o.rootToken,
      UPDATE_TASK: 'false',
      LOG_LEVEL: 'warn',
      IMAGE_CACHE_DIR: o.imageCacheDir,
      DEMO: 'false',
      ...o.extraEnv,
    },
  });
}

/** One upstream simulator process (`src/simulator/main.ts`); `env` adds e.g. SIM_IMAGE_SIZE. */
export function spawnSimulator(
  name: string,
  secret: string,
  stepMs = 1000,
  env: Record<string, string> = {},
): Promise<Child> {
  return spawnServer({
    name,
    script: 'src/simulator/main.ts',
    ready: LISTENING,
    env: { SIM_PORT: '0', SIM_HOST: '127.0.0.1', SIM_SECRET: secret, SIM_STEP_MS: String(stepMs), ...env },
  });
}

/** A raw ceiling server of scripts/bench/servers/. */
export function spawnRaw(name: string, file: string, args: string[]): Promise<Child> {
  return spawnServer({ name, script: `scripts/bench/servers/${file}`, args, ready: LISTENING });
}
