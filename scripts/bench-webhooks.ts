/**
 * Ad-hoc measurement of the webhook worker (not a test): `bun scripts/bench-webhooks.ts`.
 * 1. Latency: tasks on the simulator (fast lifecycle), polled every 100 ms; for each delivery the
 *    time from the poller's write (the row's created_time) to the receiver getting it.
 * 2. Throughput: N due deliveries of N different tasks, drained by one worker to a local receiver.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq, sql } from 'drizzle-orm';
import { loadConfig } from '../src/config.ts';
import { openDatabase } from '../src/db/client.ts';
import { channels, tasks, tokens, users, webhookDeliveries } from '../src/db/schema/index.ts';
import { enqueueTaskChange, recordTaskHook } from '../src/db/sqlite/outbox.ts';
import { createSqliteOutboxStore } from '../src/db/sqlite/outbox-worker.ts';
import { createSqliteStore } from '../src/db/sqlite/store.ts';
import { createSqliteSyncStore } from '../src/db/sqlite/sync.ts';
import { OptionsStore } from '../src/domain/options.ts';
import { webhookPayloadOf } from '../src/domain/webhooks.ts';
import { createPoller } from '../src/jobs/poller.ts';
import { createWebhookWorker } from '../src/jobs/webhooks.ts';
import { systemClock } from '../src/lib/clock.ts';
import { silentLogger } from '../src/lib/logger.ts';
import { createMetrics } from '../src/lib/metrics.ts';
import { startSimulator } from '../src/simulator/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'mjgw-whbench-'));
const db = openDatabase(join(dir, 'bench.db'));
const config = loadConfig({
  DATABASE_PATH: join(dir, 'bench.db'),
  WEBHOOK_ALLOW_PRIVATE: 'true',
  POLL_INTERVAL_MS: '100',
});
const options = await OptionsStore.bootstrap(createSqliteStore(db).options);
const received = new Map<string, number>();
const receiver = Bun.serve({
  port: 0,
  hostname: '127.0.0.1',
  async fetch(req) {
    received.set(req.headers.get('x-mj-delivery-id') ?? '', Date.now());
    await req.arrayBuffer();
    return new Response('ok');
  },
});
const hookUrl = `http://127.0.0.1:${receiver.port}/hook`;
const sim = await startSimulator({ secret: 's', stepMs: 100, imageSize: 16 });
const now = Date.now();
const user = db
  .insert(users)
  .values({
    username: 'bench',
    displayName: 'bench',
    role: 1,
    status: 1,
    accessToken: 'x'.repeat(40),
    quota: 0,
    createdTime: now,
  })
  .returning()
  .get();
const token = db
  .insert(tokens)
  .values({
    userId: user.id,
    name: 'b',
    key: 'k'.repeat(48),
    createdTime: now,
    webhookSecret: 'whsec_benchbenchbenchbenchbenchbench',
  })
  .returning()
  .get();
const channel = db
  .insert(channels)
  .values({ name: 'sim', baseUrl: sim.url, key: 's', createdTime: now })
  .returning()
  .get();
const deps = {
  db,
  store: createSqliteStore(db),
  taskStore: { sync: createSqliteSyncStore(db), outbox: createSqliteOutboxStore(db) },
  config,
  logger: silentLogger,
  clock: systemClock,
  fetch: globalThis.fetch,
  metrics: createMetrics(),
  options,
  serverAddress: () => 'http://localhost:3000',
};

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

// 1. Latency, with the worker's default 250 ms interval.
{
  const TASKS = 50;
  for (let i = 0; i < TASKS; i++) {
    const res = await fetch(`${sim.url}/mj/submit/imagine`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'mj-api-secret': 's' },
      body: JSON.stringify({ prompt: `bench ${i}` }),
    });
    const mjId = ((await res.json()) as { result: string }).result;
    const t = db
      .insert(tasks)
      .values({
        userId: user.id,
        tokenId: token.id,
        channelId: channel.id,
        mjId,
        action: 'IMAGINE',
        prompt: `bench ${i}`,
        submitTime: Date.now(),
        progress: '0%',
      })
      .returning()
      .get();
    db.transaction((tx) => recordTaskHook(tx, { taskId: t.id, userId: user.id, tokenId: token.id, url: hookUrl }));
  }
  const poller = createPoller(deps);
  const worker = createWebhookWorker(deps, { intervalMs: Number(process.env.WORKER_INTERVAL_MS ?? 100) });
  poller.start();
  worker.start();
  for (;;) {
    const open = db.select({ n: sql<number>`count(*)` }).from(tasks).where(sql`progress <> '100%'`).get()?.n ?? 0;
    const pending =
      db
        .select({ n: sql<number>`count(*)` })
        .from(webhookDeliveries)
        .where(eq(webhookDeliveries.status, 'pending'))
        .get()?.n ?? 0;
    if (open === 0 && pending === 0) break;
    await Bun.sleep(50);
  }
  await poller.stop();
  await worker.stop();
  const rows = db.select().from(webhookDeliveries).all();
  const lat = rows.map((r) => (received.get(`dlv_${r.id}`) ?? NaN) - r.createdTime).filter((x) => Number.isFinite(x));
  const firsts = rows.filter((r) => !rows.some((o) => o.taskId === r.taskId && o.id < r.id));
  const firstLat = firsts.map((r) => (received.get(`dlv_${r.id}`) ?? NaN) - r.createdTime);
  console.log(`  first delivery of each task: p50 ${pct(firstLat, 50)} ms`);
  console.log(
    `latency (poller write -> receiver), ${lat.length} deliveries of ${TASKS} tasks: p50 ${pct(lat, 50)} ms, p90 ${pct(lat, 90)} ms, max ${Math.max(...lat)} ms`,
  );
}

// 2. Throughput.
{
  const N = Number(process.env.N ?? 5000);
  db.delete(webhookDeliveries).run();
  const base = Date.now();
  db.transaction((tx) => {
    for (let i = 0; i < N; i++) {
      const t = tx
        .insert(tasks)
        .values({
          userId: user.id,
          tokenId: token.id,
          channelId: channel.id,
          mjId: `t${i}`,
          action: 'IMAGINE',
          prompt: 'p',
          submitTime: base,
          progress: '100%',
          status: 'SUCCESS',
        })
        .returning()
        .get();
      recordTaskHook(tx, { taskId: t.id, userId: user.id, tokenId: token.id, url: hookUrl });
      enqueueTaskChange(tx, [t.id], base, webhookPayloadOf(base));
    }
  });
  for (const concurrency of [16]) {
    const worker = createWebhookWorker(deps, { concurrency });
    const started = performance.now();
    let sent = 0;
    for (;;) {
      const r = await worker.runOnce();
      sent += r.delivered + r.retried + r.failed;
      if (r.delivered + r.retried + r.failed === 0) break;
    }
    const s = (performance.now() - started) / 1000;
    console.log(
      `throughput: ${sent} deliveries in ${s.toFixed(2)} s = ${Math.round(sent / s)}/s (concurrency ${concurrency})`,
    );
  }
}

await sim.stop();
receiver.stop(true);
db.$client.close();
rmSync(dir, { recursive: true, force: true });
