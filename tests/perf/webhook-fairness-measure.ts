/**
 * Ad-hoc measure (not a test) for issue 14 point 6: another user's first-delivery latency while
 * one user has `SLOW_TASKS` tasks (default 80) whose receiver answers after `SLOW_MS` (default
 * 8 s, past the 5 s send timeout), against the same fast delivery with no slow backlog. The real
 * worker on a real SQLite file (or PostgreSQL with `pg` and TEST_DATABASE_URL), real receivers:
 *   bun tests/perf/webhook-fairness-measure.ts [sqlite|pg] [slowTasks] [slowMs]
 */
import { createWebhookWorker } from '../../src/jobs/webhooks.ts';
import { systemClock } from '../../src/lib/clock.ts';
import { silentLogger } from '../../src/lib/logger.ts';
import { BACKENDS } from '../helpers/webhook-backends.ts';
import { startWebhookReceiver } from '../helpers/webhook-receiver.ts';

const dialect = process.argv[2] === 'pg' ? 'pg' : 'sqlite';
const SLOW_TASKS = Number(process.argv[3] ?? 80);
const SLOW_MS = Number(process.argv[4] ?? 8000);

async function firstDeliveryMs(slowTasks: number): Promise<number> {
  const b = await BACKENDS[dialect]();
  const slow = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    fetch: async () => {
      await Bun.sleep(SLOW_MS);
      return new Response('late');
    },
  });
  const fast = startWebhookReceiver();
  const worker = createWebhookWorker({
    logger: silentLogger,
    clock: systemClock,
    fetch: globalThis.fetch,
    taskStore: { outbox: b.outbox },
    config: { webhookAllowPrivate: true },
  });
  try {
    const now = systemClock.now();
    const hostile = await b.keyedUser(systemClock);
    const other = await b.keyedUser(systemClock);
    if (slowTasks > 0)
      await b.hookedTasks(hostile, (i) => `http://127.0.0.1:${slow.port}/hook/${i}`, slowTasks, 1, now);
    await b.hookedTasks(other, () => `${fast.url}/fast`, 1, 1, now);
    const t0 = performance.now();
    worker.start();
    while (fast.received.length === 0) await Bun.sleep(5);
    return performance.now() - t0;
  } finally {
    // Not stopping the worker for the slow sends: the process exits when the numbers are out.
    await fast.stop();
    void slow;
    void b;
  }
}

const alone = await firstDeliveryMs(0);
const behind = await firstDeliveryMs(SLOW_TASKS);
console.log(
  JSON.stringify({
    dialect,
    slowTasks: SLOW_TASKS,
    slowMs: SLOW_MS,
    aloneMs: Math.round(alone),
    behindSlowMs: Math.round(behind),
  }),
);
process.exit(0);
