import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from './server.ts';

/**
 * Gateway replicas (`bun src/index.ts`) on one PostgreSQL database under a steady mixed load of
 * relay submits, fetches and listings, for the outage tests (tests/integration/pg-outage-load.test.ts)
 * and the survival count of scripts/pg-outage-load.ts.
 */

export const LOAD_ROOT_TOKEN = 'pg-outage-load-root-token-0123456789';
export const LOAD_ROOT = { authorization: `Bearer ${LOAD_ROOT_TOKEN}`, 'new-api-user': '1' };

export interface Replica {
  name: string;
  url: string;
  proc: ReturnType<typeof Bun.spawn>;
  out(): string;
  err(): string;
  alive(): boolean;
}

async function drain(stream: ReadableStream<Uint8Array>, onText: (t: string) => void): Promise<void> {
  const decoder = new TextDecoder();
  for await (const chunk of stream) onText(decoder.decode(chunk, { stream: true }));
}

export async function spawnReplica(
  name: string,
  databaseUrl: string,
  extraEnv: Record<string, string> = {},
): Promise<Replica> {
  const images = mkdtempSync(join(tmpdir(), 'mjgw-load-images-'));
  const proc = Bun.spawn(['bun', 'src/index.ts'], {
    cwd: join(import.meta.dir, '../..'),
    env: {
      PATH: process.env.PATH ?? '',
      PORT: '0',
      HOST: '127.0.0.1',
      DATABASE_URL: databaseUrl,
      DATABASE_POOL_SIZE: '4',
      POLL_INTERVAL_MS: '200',
      POLL_LEASE_MS: '1500',
      INITIAL_ROOT_ACCESS_TOKEN: LOAD_ROOT_TOKEN,
      READ_WORKERS: '0',
      LOG_LEVEL: 'error',
      IMAGE_CACHE_DIR: images,
      ...extraEnv,
    },
    stdout: 'pipe',
    stderr: 'pipe',
  });
  let out = '';
  let err = '';
  void drain(proc.stdout as ReadableStream<Uint8Array>, (t) => (out += t));
  void drain(proc.stderr as ReadableStream<Uint8Array>, (t) => (err += t));
  void proc.exited.then(() => rmSync(images, { recursive: true, force: true }));
  const port = await waitFor(
    () => /listening on http:\/\/[^:]+:(\d+)/.exec(out)?.[1] ?? (proc.exitCode !== null ? 'exited' : null),
    `${name} listening`,
    30_000,
  );
  if (port === 'exited') throw new Error(`${name} exited at start-up: ${out}${err}`);
  return {
    name,
    url: `http://127.0.0.1:${port}`,
    proc,
    out: () => out,
    err: () => err,
    alive: () => proc.exitCode === null && proc.signalCode === null,
  };
}

export async function trpcCall<T>(
  url: string,
  path: string,
  input: unknown,
  headers: Record<string, string>,
  method: 'query' | 'mutation' = 'mutation',
): Promise<T> {
  const res =
    method === 'mutation'
      ? await fetch(`${url}/trpc/${path}`, {
          method: 'POST',
          headers: { ...headers, 'content-type': 'application/json' },
          body: JSON.stringify(input),
        })
      : await fetch(`${url}/trpc/${path}?input=${encodeURIComponent(JSON.stringify(input))}`, { headers });
  if (res.status !== 200) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { result: { data: T } }).result.data;
}

export interface LoadUser {
  id: number;
  key: string;
  headers: Record<string, string>;
}

export async function createLoadUser(url: string, username: string, quota: number): Promise<LoadUser> {
  const user = await trpcCall<{ id: number; access_token: string }>(
    url,
    'admin.user.create',
    { username, quota },
    LOAD_ROOT,
  );
  const headers = { authorization: `Bearer ${user.access_token}`, 'new-api-user': String(user.id) };
  const token = await trpcCall<{ key: string }>(url, 'token.create', { name: 'k', unlimited_quota: true }, headers);
  return { id: user.id, key: token.key, headers };
}

export function imagine(url: string, key: string, prompt: string, signal?: AbortSignal): Promise<Response> {
  return fetch(`${url}/mj/submit/imagine`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ prompt }),
    signal,
  });
}

export interface LoadStats {
  /** Submits the upstream accepted (relay code 1). */
  submitted: number;
  ok: number;
  unavailable: number;
  /** The slowest 503 answer, in ms. */
  slowest503Ms: number;
  /** Answers other than 200/503 (status → count), and transport failures (ECONNREFUSED, …). */
  other: Map<string, number>;
}

/**
 * `workers` loops sending, across the replicas in turn, an imagine, a fetch of a task it got, a
 * relay listing by ids or a tRPC `mj.self` page, until stopped. Every request is bounded.
 */
export function startLoad(
  replicas: () => readonly Replica[],
  user: LoadUser,
  workers: number,
): { stats: () => LoadStats; stop: () => Promise<LoadStats> } {
  const stats: LoadStats = { submitted: 0, ok: 0, unavailable: 0, slowest503Ms: 0, other: new Map() };
  const ids: string[] = [];
  let running = true;
  const note = (key: string) => stats.other.set(key, (stats.other.get(key) ?? 0) + 1);
  const one = async (r: Replica, n: number) => {
    const signal = AbortSignal.timeout(15_000);
    const started = performance.now();
    const relay = { authorization: `Bearer ${user.key}`, 'content-type': 'application/json' };
    let op = n % 4;
    let res: Response;
    if (op === 0 || ids.length === 0) {
      op = 0;
      res = await imagine(r.url, user.key, `load ${n}`, signal);
      if (res.status === 200) {
        const body = (await res.json()) as { code: number; result: string };
        if (body.code === 1) {
          ids.push(body.result);
          stats.submitted++;
        }
        stats.ok++;
        return;
      }
    } else if (op === 1) {
      res = await fetch(`${r.url}/mj/task/${ids[n % ids.length]}/fetch`, { headers: relay, signal });
    } else if (op === 2) {
      res = await fetch(`${r.url}/mj/task/list-by-condition`, {
        method: 'POST',
        headers: relay,
        body: JSON.stringify({ ids: ids.slice(-20) }),
        signal,
      });
    } else {
      res = await fetch(`${r.url}/trpc/mj.self?input=${encodeURIComponent(JSON.stringify({ page_size: 20 }))}`, {
        headers: user.headers,
        signal,
      });
    }
    await res.arrayBuffer();
    if (res.status === 200) stats.ok++;
    else if (res.status === 503) {
      stats.unavailable++;
      stats.slowest503Ms = Math.max(stats.slowest503Ms, Math.round(performance.now() - started));
    } else note(`${['imagine', 'fetch', 'list', 'self'][op]} ${res.status}`);
  };
  const loops = Array.from({ length: workers }, async (_, w) => {
    for (let n = w; running; n += workers) {
      const all = replicas().filter((r) => r.alive());
      const r = all[n % Math.max(1, all.length)];
      if (!r) return;
      await one(r, n).catch((err: unknown) =>
        note((err as { code?: string }).code ?? (err instanceof Error ? err.name : 'error')),
      );
    }
  });
  return {
    stats: () => ({ ...stats, other: new Map(stats.other) }),
    async stop() {
      running = false;
      await Promise.all(loops);
      return stats;
    },
  };
}

/** The books of every user from the logs: quota = granted − consumed + refunded (rows that differ). */
export const UNBALANCED_USERS_SQL = `SELECT u.id, u.quota, COALESCE((SELECT sum(CASE type WHEN 4 THEN quota WHEN 2 THEN -quota WHEN 6 THEN quota END)
  FROM logs WHERE user_id = u.id), 0)::bigint AS from_logs FROM users u`;
