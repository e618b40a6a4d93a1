import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { createWebhookWorker, type WebhookWorker } from '../../src/jobs/webhooks.ts';
import { systemClock } from '../../src/lib/clock.ts';
import { silentLogger } from '../../src/lib/logger.ts';
import {
  QUEUES_PER_LOOK,
  QUEUES_PER_USER_PER_LOOK,
  RECEIVER_IN_FLIGHT,
  ROWS_PER_QUEUE,
  ROWS_PER_USER,
} from '../../src/lib/webhook-receiver.ts';
import { BACKENDS, type HookBackend } from '../helpers/webhook-backends.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.ts';

/**
 * One user's slow webhook receiver must not delay another user's (issue 14, point 6; SPEC §15):
 * sends are queued per receiver (host:port) with a few in flight each, and the due query hands out
 * each receiver's and each user's share, never one backlog's oldest N. Real receivers on loopback
 * ports, the real worker, on SQLite and on PostgreSQL (TEST_DATABASE_URL, or a private cluster).
 */

interface SlowReceiver {
  url: string;
  /** Task ids in the order their POSTs arrived, with the change number. */
  arrived: Array<{ task: number; n: number }>;
  peakOpen: number;
  /** Answer every held request now, and every later one at once. */
  release(): void;
  stop(): Promise<void>;
}

/** A receiver that answers 200 only after `holdMs` (3 s: well inside the 5 s send timeout) or when released. */
function startSlowReceiver(holdMs: number): SlowReceiver {
  const arrived: SlowReceiver['arrived'] = [];
  const held = new Set<() => void>();
  let released = false;
  let open = 0;
  let peakOpen = 0;
  const server = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    async fetch(req) {
      open++;
      peakOpen = Math.max(peakOpen, open);
      arrived.push(JSON.parse(await req.text()) as { task: number; n: number });
      if (!released) {
        await new Promise<void>((resolve) => {
          const done = () => {
            held.delete(done);
            clearTimeout(timer);
            resolve();
          };
          const timer = setTimeout(done, holdMs);
          held.add(done);
        });
      }
      open--;
      return new Response('ok');
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    arrived,
    get peakOpen() {
      return peakOpen;
    },
    release() {
      released = true;
      for (const done of [...held]) done();
    },
    stop: () => server.stop(true),
  };
}

async function waitFor(what: string, cond: () => boolean | Promise<boolean>, deadlineMs = 25_000): Promise<void> {
  const until = Date.now() + deadlineMs;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(10);
  }
}

const byTask = (got: ReadonlyArray<{ task: number; n: number }>) => {
  const m = new Map<number, number[]>();
  for (const g of got) m.set(g.task, [...(m.get(g.task) ?? []), g.n]);
  return m;
};

for (const [dialect, open] of Object.entries(BACKENDS)) {
  describe(`webhook fairness on ${dialect}`, () => {
    let b: HookBackend;
    let worker: WebhookWorker | null = null;
    let slow: SlowReceiver;
    let fast: WebhookReceiver;

    beforeAll(async () => {
      b = await open();
      slow = startSlowReceiver(3000);
      fast = startWebhookReceiver();
    });

    afterAll(async () => {
      await worker?.stop();
      slow.release();
      await slow.stop();
      await fast.stop();
      await b.close();
    });

    test("a slow receiver's backlog does not hold another user's fast receiver; each task stays in order", async () => {
      const now = systemClock.now();
      const hostile = await b.keyedUser(systemClock);
      const other = await b.keyedUser(systemClock);
      // 30 tasks of one user, two changes each, to a receiver that takes 3 s an answer; queued first.
      const slowTasks = await b.hookedTasks(hostile, (i) => `${slow.url}/slow/${i}`, 30, 2, now);
      const [fastTask] = await b.hookedTasks(other, () => `${fast.url}/fast`, 1, 2, now);
      worker = createWebhookWorker(
        {
          logger: silentLogger,
          clock: systemClock,
          fetch: globalThis.fetch,
          taskStore: { outbox: b.outbox },
          config: { webhookAllowPrivate: true },
        },
        { intervalMs: 20 },
      );
      worker.start();

      await waitFor("the fast receiver's first delivery", () => fast.received.length >= 1);
      // Counted when the fast receiver got its first: the slow one had taken only its share, none answered.
      const slowSoFar = slow.arrived.length;
      const slowDelivered = (await b.deliveries()).filter(
        (d) => d.userId === hostile.userId && d.status === 'delivered',
      ).length;
      expect(slowSoFar).toBeLessThanOrEqual(RECEIVER_IN_FLIGHT);
      expect(slowDelivered).toBe(0);
      await waitFor("the fast task's second change", () => fast.received.length >= 2);
      expect(slow.arrived.length).toBeLessThanOrEqual(RECEIVER_IN_FLIGHT);
      expect(fast.received.map((r) => JSON.parse(r.body))).toEqual([
        { task: fastTask, n: 1 },
        { task: fastTask, n: 2 },
      ]);

      // The backlog drains, one task's changes never overtaking each other, never more than the share at once.
      slow.release();
      await waitFor('the slow backlog to drain', async () =>
        (await b.deliveries()).every((d) => d.status === 'delivered'),
      );
      expect(slow.peakOpen).toBeLessThanOrEqual(RECEIVER_IN_FLIGHT);
      const order = byTask(slow.arrived);
      expect([...order.keys()].sort((x, y) => x - y)).toEqual(slowTasks);
      for (const ns of order.values()) expect(ns).toEqual([1, 2]);
    }, 60_000);

    test("with 10,000 pending deliveries of one user, a look at the outbox is still bounded and holds everyone else's heads", async () => {
      await worker?.stop();
      worker = null;
      const now = systemClock.now() + 1;
      const hostile = await b.keyedUser(systemClock);
      const spread = await b.keyedUser(systemClock);
      const others = [await b.keyedUser(systemClock), await b.keyedUser(systemClock)];
      // 500 tasks with 20 changes each to one receiver (inserting 10,000 tasks is the slow part of a test).
      await b.hookedTasks(hostile, (i) => `http://slow.example:8080/hook/${i}`, 500, 20, now);
      // One user's many receivers: at most ROWS_PER_USER of theirs in a look.
      await b.hookedTasks(spread, (i) => `http://r${i}.example/hook`, 40, 1, now);
      const late = [
        ...(await b.hookedTasks(others[0]!, () => 'http://fast-one.example/hook', 3, 1, now)),
        ...(await b.hookedTasks(others[1]!, () => 'http://fast-two.example/hook', 3, 1, now)),
      ];
      const due = await b.outbox.due(now, 64);
      expect(due.length).toBeLessThanOrEqual(64);
      expect(due.filter((d) => d.userId === hostile.userId).length).toBe(ROWS_PER_QUEUE);
      expect(due.filter((d) => d.userId === spread.userId).length).toBe(ROWS_PER_USER);
      // Each other receiver's oldest heads are there, in id order.
      const lateDue = due.filter((d) => late.includes(d.taskId)).map((d) => d.taskId);
      expect(lateDue).toEqual(late);
      expect(due.map((d) => d.id)).toEqual([...due.map((d) => d.id)].sort((x, y) => x - y));
    }, 60_000);

    test('past QUEUES_PER_LOOK queues, the next look goes on where the last one stopped, then starts over', async () => {
      const fresh = await open();
      try {
        const now = systemClock.now();
        const users = [];
        // 10 users with 40 receivers each: 400 queues, 32 of each user walked per look.
        for (let u = 0; u < 10; u++) {
          const k = await fresh.keyedUser(systemClock);
          users.push(k.userId);
          await fresh.hookedTasks(k, (i) => `http://r${String(i).padStart(2, '0')}.example/hook`, 40, 1, now);
        }
        const usersOf = async () =>
          [...new Set((await fresh.outbox.due(now, 10_000)).map((d) => d.userId))].sort((x, y) => x - y);
        const perLook = QUEUES_PER_LOOK / QUEUES_PER_USER_PER_LOOK;
        expect(await usersOf()).toEqual(users.slice(0, perLook));
        expect(await usersOf()).toEqual(users.slice(perLook - 1));
        expect(await usersOf()).toEqual(users.slice(0, perLook));
      } finally {
        await fresh.close();
      }
    }, 60_000);
  });
}
