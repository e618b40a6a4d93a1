/**
 * Ad-hoc measure (not a test), issue 14 point 5: the largest answer one common user can make and
 * `/healthz` latency idle vs while that user does their worst. Spawns a real gateway process
 * (`bun src/index.ts`, SQLite, default READ_WORKERS) from a source tree (default: this repo):
 *   bun tests/perf/one-user-worst.ts [sourceRoot] [seconds]
 * The user's rows are what 120+ refused `--sim-banned` submits leave (free: refunded): prompts of
 * 8,179 × U+0001, whose JSON is 6 bytes a character, so every listing item reaches its 48 KiB cap.
 */
import { Database } from 'bun:sqlite';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = process.argv[2] ?? new URL('../..', import.meta.url).pathname;
const SECONDS = Number(process.argv[3] ?? 8);
const ROWS = 500;
const TOKEN = 'one-user-worst-root-token-0123456789';
const ROOT_H = { authorization: `Bearer ${TOKEN}`, 'new-api-user': '1' };

const dir = mkdtempSync(join(tmpdir(), 'one-user-worst-'));
const dbPath = join(dir, 'gw.db');
const proc = Bun.spawn(['bun', 'src/index.ts'], {
  cwd: ROOT,
  stdout: 'pipe',
  stderr: 'ignore',
  env: {
    PATH: process.env.PATH ?? '',
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_PATH: dbPath,
    INITIAL_ROOT_ACCESS_TOKEN: TOKEN,
    UPDATE_TASK: 'false',
    LOG_LEVEL: 'warn',
    IMAGE_DIR: join(dir, 'img'),
  },
});
let out = '';
const reader = proc.stdout.getReader();
let url = '';
while (!url) {
  const c = await reader.read();
  if (c.done) throw new Error(`gateway ended: ${out}`);
  out += new TextDecoder().decode(c.value);
  const m = /listening on (http:\/\/[^\s]+)/.exec(out);
  if (m) url = m[1]!.replace('localhost', '127.0.0.1');
}
void (async () => {
  for (;;) if ((await reader.read()).done) break;
})();

async function trpc<T>(path: string, headers: Record<string, string>, input: unknown): Promise<T> {
  const res = await fetch(`${url}/trpc/${path}`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify(input),
  });
  const body = (await res.json()) as { result: { data: T } };
  return body.result.data;
}

const user = await trpc<{ id: number; access_token: string }>('admin.user.create', ROOT_H, {
  username: 'heavy',
  quota: 0,
});
const H = { authorization: `Bearer ${user.access_token}`, 'new-api-user': String(user.id) };
const key = (await trpc<{ key: string }>('token.create', H, { name: 'k', unlimited_quota: true })).key;

const db = new Database(dbPath);
db.run('PRAGMA busy_timeout = 5000');
const prompt = `${'\u0001'.repeat(8179)} --sim-banned`.slice(0, 8192);
const props = JSON.stringify({ bannedWord: 'sim-banned', promptEn: prompt });
const ins =
  db.prepare(`INSERT INTO tasks (user_id, mj_id, action, prompt, prompt_en, properties, submit_time, updated_time, status, progress, fail_reason)
  VALUES (?, ?, 'IMAGINE', ?, ?, ?, ?, ?, 'FAILURE', '0%', 'May contain sensitive words')`);
const now = Date.now();
const ids: string[] = [];
db.transaction(() => {
  for (let i = 0; i < ROWS; i++) {
    ids.push(`heavy-${i}`);
    ins.run(user.id, `heavy-${i}`, prompt, prompt, props, now - i * 1000, now - i * 1000);
  }
})();
db.close();

const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;

async function healthz(untilMs: number): Promise<number[]> {
  const lat: number[] = [];
  while (performance.now() < untilMs) {
    const t = performance.now();
    await (await fetch(`${url}/healthz`)).text();
    lat.push(performance.now() - t);
    await Bun.sleep(5);
  }
  return lat;
}

const largest: Record<string, { bytes: number; status: number }> = {};
function record(kind: string, bytes: number, status: number) {
  if (!largest[kind] || bytes > largest[kind]!.bytes) largest[kind] = { bytes, status };
}

const batchUrl = (n: number, size: number) => {
  const input = Object.fromEntries(Array.from({ length: n }, (_, i) => [String(i), { page_size: size }]));
  return `${url}/trpc/${Array(n).fill('mj.self').join(',')}?batch=1&input=${encodeURIComponent(JSON.stringify(input))}`;
};

async function body(res: Response): Promise<number> {
  return (await res.arrayBuffer()).byteLength;
}

/** A replay from an hour-old event id: bytes received within 3 s (or until the stream ends). */
async function replay(): Promise<{ bytes: number; reload: boolean; refused: boolean }> {
  const ac = new AbortController();
  const input = encodeURIComponent(JSON.stringify({ lastEventId: `oldboot-1-${Date.now() - 3_600_000}` }));
  const res = await fetch(`${url}/trpc/mj.onTaskUpdate?input=${input}`, {
    headers: { ...H, accept: 'text/event-stream' },
    signal: ac.signal,
  });
  const r = res.body!.getReader();
  let bytes = 0;
  let text = '';
  const stop = setTimeout(() => ac.abort(), 3_000);
  try {
    for (;;) {
      const c = await r.read();
      if (c.done) break;
      bytes += c.value.byteLength;
      if (text.length < 4096) text += new TextDecoder().decode(c.value);
      if (/"reload":true|serialized-error/.test(text)) break;
    }
  } catch {
    // aborted
  } finally {
    clearTimeout(stop);
    ac.abort();
  }
  return { bytes, reload: text.includes('"reload":true'), refused: text.includes('serialized-error') };
}

async function hoard(n: number): Promise<{ accepted: number; close: () => void }> {
  const acs: AbortController[] = [];
  let accepted = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      const ac = new AbortController();
      acs.push(ac);
      const res = await fetch(`${url}/trpc/mj.onTaskUpdate?input=%7B%7D`, {
        headers: { ...H, accept: 'text/event-stream' },
        signal: ac.signal,
      });
      // The 9th and later are an HTTP 429 before any stream starts.
      if (res.status !== 200) return;
      const r = res.body!.getReader();
      let text = '';
      while (!/event: connected[\s\S]*\n\n/.test(text) || text.length < 60) {
        const c = await r.read();
        if (c.done) break;
        text += new TextDecoder().decode(c.value);
        if (text.includes('serialized-error')) break;
        // Accepted streams send nothing more until a change or a ping.
        if (text.includes('event: connected')) break;
      }
      // A refusal arrives right after `connected`: give it a moment.
      const more = await Promise.race([r.read(), Bun.sleep(300).then(() => null)]);
      if (more && !more.done) text += new TextDecoder().decode(more.value);
      if (!text.includes('serialized-error')) accepted++;
    }),
  );
  return {
    accepted,
    close: () => {
      for (const a of acs) a.abort();
    },
  };
}

// Idle.
const idle = await healthz(performance.now() + 3_000);

// Largest answers that are still served.
for (const size of [5, 10, 15, 20, 100]) {
  const res = await fetch(batchUrl(16, size), { headers: H });
  record(`tRPC batch 16 × mj.self page_size=${size}`, await body(res), res.status);
}
{
  const res = await fetch(`${url}/api/mj/self?page_size=100`, { headers: H });
  record('REST /api/mj/self page_size=100', await body(res), res.status);
  for (const n of [100, 150, 500]) {
    const lbc = await fetch(`${url}/mj/task/list-by-condition`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ids: ids.slice(0, n) }),
    });
    record(`list-by-condition ${n} ids`, await body(lbc), lbc.status);
  }
  const r = await replay();
  record(`replay from an hour-old id (reload=${r.reload}, refused=${r.refused})`, r.bytes, 200);
}
const hoarded = await hoard(20);
hoarded.close();

// Worst: everything at once, again and again, while /healthz is timed.
const until = performance.now() + SECONDS * 1000;
const statuses: Record<string, number> = {};
const count = (k: string) => (statuses[k] = (statuses[k] ?? 0) + 1);
const loop = async (work: () => Promise<void>) => {
  while (performance.now() < until)
    await work().catch((e: unknown) =>
      count(`client error: ${e instanceof Error ? e.message.slice(0, 80) : String(e)}`),
    );
};
const rssBefore = Number(/VmRSS:\s+(\d+)/.exec(await Bun.file(`/proc/${proc.pid}/status`).text())?.[1] ?? 0);
let rssMax = rssBefore;
const rssTimer = setInterval(async () => {
  rssMax = Math.max(rssMax, Number(/VmRSS:\s+(\d+)/.exec(await Bun.file(`/proc/${proc.pid}/status`).text())?.[1] ?? 0));
}, 200);
const ATTACKS = (process.env.ATTACKS ?? 'batch,lbc,replay').split(',');
const on = (a: string) => (ATTACKS.includes(a) ? 1 : 0);
const [busy] = await Promise.all([
  healthz(until),
  ...Array.from({ length: 8 * on('batch') }, () =>
    loop(async () => {
      const res = await fetch(batchUrl(16, 100), { headers: H });
      await body(res);
      count(`batch ${res.status}`);
    }),
  ),
  ...Array.from({ length: 4 * on('lbc') }, () =>
    loop(async () => {
      const res = await fetch(`${url}/mj/task/list-by-condition`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ ids }),
      });
      await body(res);
      count(`list-by-condition ${res.status}`);
    }),
  ),
  ...Array.from({ length: 8 * on('replay') }, () =>
    loop(async () => {
      const r = await replay();
      count(r.reload ? 'replay reload' : r.refused ? 'replay refused' : 'replay sent');
    }),
  ),
]);
clearInterval(rssTimer);

const fmt = (xs: number[]) =>
  `p50 ${pct(xs, 0.5).toFixed(2)} ms, p99 ${pct(xs, 0.99).toFixed(2)} ms, max ${Math.max(...xs).toFixed(1)} ms (n=${xs.length})`;
console.log(`source: ${ROOT}`);
console.log('largest answers one user got:');
for (const [k, v] of Object.entries(largest))
  console.log(`  ${k}: ${(v.bytes / 1024 / 1024).toFixed(2)} MiB (HTTP ${v.status})`);
console.log(`subscriptions accepted of 20 opened at once: ${hoarded.accepted}`);
console.log(`/healthz idle: ${fmt(idle)}`);
console.log(`/healthz while the user does their worst (${SECONDS} s): ${fmt(busy)}`);
console.log(`answers during the worst: ${JSON.stringify(statuses)}`);
console.log(`RSS: ${Math.round(rssBefore / 1024)} MB before, ${Math.round(rssMax / 1024)} MB max`);

proc.kill('SIGKILL');
await proc.exited;
rmSync(dir, { recursive: true, force: true });
process.exit(0);
