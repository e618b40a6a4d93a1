import { Database } from 'bun:sqlite';
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTRPCClient, httpBatchLink } from '@trpc/client';
import { type Simulator, startSimulator } from '../../src/simulator/index.ts';
import type { AppRouter } from '../../src/trpc/routers/index.ts';
import { waitFor } from '../helpers/server.ts';

/**
 * Several real gateway processes (`bun src/index.ts`) on one SQLite file (SPEC §13): one poller
 * leader among them, handover on a crash and on a clean stop, options in force everywhere.
 */

const ROOT_TOKEN = 'multi-process-root-token-0123456789';
const ROOT = { authorization: `Bearer ${ROOT_TOKEN}`, 'new-api-user': '1' };
const SECRET = 'multi-process-sim-secret';
const INTERVAL_MS = 100;
const LEASE_MS = 1500;

interface Gateway {
  name: string;
  url: string;
  proc: ReturnType<typeof Bun.spawn>;
  /** Everything printed on stdout so far. */
  out(): string;
  /** The holder id this process logged when it took the lease (the latest one). */
  holder(): string | undefined;
}

let dir: string;
let dbPath: string;
let sim: Simulator;
let reader: Database;
const gateways: Gateway[] = [];

async function spawnGateway(name: string, updateTask: boolean): Promise<Gateway> {
  const proc = Bun.spawn(['bun', 'src/index.ts'], {
    env: {
      PATH: process.env.PATH ?? '',
      PORT: '0',
      HOST: '127.0.0.1',
      DATABASE_PATH: dbPath,
      UPDATE_TASK: String(updateTask),
      POLL_INTERVAL_MS: String(INTERVAL_MS),
      POLL_LEASE_MS: String(LEASE_MS),
      INITIAL_ROOT_ACCESS_TOKEN: ROOT_TOKEN,
    },
    stdout: 'pipe',
    stderr: 'pipe',
  });
  let out = '';
  const decoder = new TextDecoder();
  // Drained for the process's whole life, so a chatty process never blocks on a full pipe.
  void (async () => {
    for await (const chunk of proc.stdout as ReadableStream<Uint8Array>) out += decoder.decode(chunk);
  })();
  const port = await waitFor(
    () => /listening on http:\/\/[^:]+:(\d+)/.exec(out)?.[1] ?? (proc.exitCode !== null ? 'exited' : null),
    `${name} listening`,
  );
  if (port === 'exited') throw new Error(`${name} exited at start-up: ${out}`);
  const g: Gateway = {
    name,
    url: `http://127.0.0.1:${port}`,
    proc,
    out: () => out,
    holder: () => [...out.matchAll(/"msg":"poller lease taken"[^\n]*"holder":"([^"]+)"/g)].at(-1)?.[1],
  };
  gateways.push(g);
  return g;
}

interface Status {
  database: string;
  poller: string;
  mj_forward_url_enabled: boolean;
}

async function status(g: Gateway): Promise<Status> {
  const res = await fetch(`${g.url}/api/status`);
  return ((await res.json()) as { data: Status }).data;
}

const client = (g: Gateway, headers: Record<string, string>) =>
  createTRPCClient<AppRouter>({ links: [httpBatchLink({ url: `${g.url}/trpc`, headers: () => headers })] });

function leaseRow(): { holder: string; expires_at: number } | null {
  return reader
    .query<{ holder: string; expires_at: number }, []>(`SELECT holder, expires_at FROM leases WHERE name = 'poller'`)
    .get();
}

let a: Gateway;
let b: Gateway;
let off: Gateway;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mjgw-multi-'));
  dbPath = join(dir, 'shared.db');
  sim = await startSimulator({ secret: SECRET, stepMs: 20, imageSize: 16 });
  // The first one creates and migrates the file; the others join it.
  a = await spawnGateway('a', true);
  [b, off] = await Promise.all([spawnGateway('b', true), spawnGateway('off', false)]);
  reader = new Database(dbPath);
});

afterAll(async () => {
  for (const g of gateways) if (g.proc.exitCode === null) g.proc.kill('SIGKILL');
  await Promise.all(gateways.map((g) => g.proc.exited));
  reader?.close();
  await sim?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('several processes on one SQLite file', () => {
  let leader: Gateway;
  let standby: Gateway;

  test('exactly one polls: one leader, one standby; UPDATE_TASK=false is off and never takes the lease', async () => {
    const roles = await waitFor(async () => {
      const r = [(await status(a)).poller, (await status(b)).poller];
      return r.includes('leader') && r.includes('standby') ? r : null;
    }, 'a leader and a standby');
    [leader, standby] = roles[0] === 'leader' ? [a, b] : [b, a];
    expect(leaseRow()?.holder).toBe(leader.holder()!);
    expect(standby.holder()).toBeUndefined();
    const offStatus = await status(off);
    expect(offStatus).toMatchObject({ database: 'sqlite', poller: 'off' });
    expect(off.out()).not.toContain('poller lease');
  });

  test('an option changed through one process is in force on the others within 2 s', async () => {
    await client(a, ROOT).admin.option.update.mutate({ key: 'mj_forward_url_enabled', value: false });
    await Promise.all([
      waitFor(async () => !(await status(b)).mj_forward_url_enabled, 'b sees the option', 2000),
      waitFor(async () => !(await status(off)).mj_forward_url_enabled, 'off sees the option', 2000),
    ]);
    await client(off, ROOT).admin.option.update.mutate({ key: 'mj_forward_url_enabled', value: true });
    await waitFor(async () => (await status(a)).mj_forward_url_enabled, 'a sees it back', 2000);
  });

  test('SIGKILL: the standby takes over once the lease expires, and finishes a task submitted meanwhile', async () => {
    const root = client(off, ROOT);
    await root.admin.channel.create.mutate({ name: 'sim', base_url: sim.url, key: SECRET });
    const user = await root.admin.user.create.mutate({ username: 'multi', quota: 10_000_000 });
    // token.create returns the key as clients send it (`sk-...`).
    const key = (
      await client(off, {
        authorization: `Bearer ${user.access_token}`,
        'new-api-user': String(user.id),
      }).token.create.mutate({ name: 'k', unlimited_quota: true })
    ).key;

    leader.proc.kill('SIGKILL');
    await leader.proc.exited;
    // Submitted through the process that never polls, while nobody leads.
    const submit = await fetch(`${off.url}/mj/submit/imagine`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ prompt: 'a lighthouse at dusk' }),
    });
    const vo = (await submit.json()) as { code: number; result: string };
    expect(vo.code).toBe(1);

    // Deadline well past lease + one interval; the spec's bound is the lease's own expiry.
    await waitFor(
      async () => (await status(standby)).poller === 'leader',
      'the standby leads',
      LEASE_MS + INTERVAL_MS + 5000,
    );
    expect(leaseRow()?.holder).toBe(standby.holder()!);
    const done = await waitFor(async () => {
      const res = await fetch(`${off.url}/mj/task/${vo.result}/fetch`, { headers: { authorization: `Bearer ${key}` } });
      const task = (await res.json()) as { status: string; progress: string };
      return task.status === 'SUCCESS' ? task : null;
    }, 'the task finishes');
    expect(done.progress).toBe('100%');
  });

  test('SIGTERM: the leader releases the lease at once and another process takes it', async () => {
    const next = await spawnGateway('next', true);
    const current = standby;
    const holder = current.holder()!;
    expect(leaseRow()?.holder).toBe(holder);
    expect((await status(next)).poller).toBe('standby');
    current.proc.kill('SIGTERM');
    expect(await current.proc.exited).toBe(0);
    // Released by the shutdown itself, not left to expire: the row is gone or already someone else's.
    expect(leaseRow()?.holder ?? null).not.toBe(holder);
    await waitFor(async () => (await status(next)).poller === 'leader', 'the next process leads');
    expect(leaseRow()?.holder).toBe(next.holder()!);
    expect((await status(off)).poller).toBe('off');
  });
});
