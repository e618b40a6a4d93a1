import { afterAll, beforeAll, expect, test } from 'bun:test';
import { and, eq, inArray } from 'drizzle-orm';
import { LOG_TYPE } from '../../src/contract/constants.ts';
import { type DB, openDatabase } from '../../src/db/client.ts';
import { logs, tasks } from '../../src/db/schema/index.ts';
import { createSqliteStore } from '../../src/db/sqlite/store.ts';
import { createSqliteSyncStore } from '../../src/db/sqlite/sync.ts';
import { createPoller } from '../../src/jobs/poller.ts';
import { ManualClock } from '../../src/lib/clock.ts';
import { type Simulator, startSimulator } from '../../src/simulator/index.ts';
import { createTestChannel, createTestUser, getUserQuota, insertTask } from '../helpers/factories.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { submitToSimulator } from '../helpers/simulator.ts';

/**
 * Two gateway processes polling one database file (two connections to the same SQLite file, as
 * two replicas with UPDATE_TASK on would have) race on the same failing tasks: every task is
 * refunded exactly once.
 */

const SECRET = 'race-secret';
const PRICE = 100_000;
const clock = new ManualClock(1_790_000_000_000);
let sim: Simulator;
let server: TestServer;
let secondDb: DB;

beforeAll(async () => {
  sim = await startSimulator({ secret: SECRET, clock, stepMs: 1000, imageSize: 16 });
  server = await startTestServer({ clock, env: { TASK_TIMEOUT_MS: '60000', POLL_BATCH_SIZE: '4' } });
  secondDb = openDatabase(server.dbPath);
});

afterAll(async () => {
  secondDb.$client.close();
  await server.stop();
  await sim.stop();
});

const simSubmit = (prompt: string) => submitToSimulator(sim, SECRET, prompt);

test('two pollers on the same database file refund each failing task once', async () => {
  const channelId = createTestChannel(server.db, sim.url, { key: SECRET });
  const START = 10_000_000;
  const n = 24;
  const user = createTestUser(server.db, { quota: START - n * PRICE });
  const ids: number[] = [];
  for (let i = 0; i < n; i++) {
    // A third fail upstream, a third hang into the timeout, a third succeed.
    const prompt = i % 3 === 0 ? `race ${i} --sim-fail` : i % 3 === 1 ? `race ${i} --sim-hang` : `race ${i}`;
    const mjId = await simSubmit(prompt);
    ids.push(
      insertTask(server.db, { userId: user.id, channelId, mjId, prompt, quota: PRICE, submitTime: clock.now() }).id,
    );
  }
  const first = createPoller(server.deps);
  const second = createPoller({
    ...server.deps,
    store: createSqliteStore(secondDb),
    taskStore: { sync: createSqliteSyncStore(secondDb) },
  });
  clock.advance(60_000);
  for (let round = 0; round < 3; round++) {
    const [a, b] = await Promise.all([first.runOnce(), second.runOnce()]);
    if (round === 0) {
      // Both read pages of unfinished tasks lazily (keyset pages), so each sees some that the
      // other has not ended yet: they overlapped (both asked the upstream about the same tasks),
      // and still only one won each ending.
      expect(a.unfinished).toBeLessThanOrEqual(n);
      expect(b.unfinished).toBeLessThanOrEqual(n);
      expect(a.unfinished + b.unfinished).toBeGreaterThan(n);
      expect(a.failed + b.failed).toBe((n / 3) * 2);
    }
  }
  const rows = server.db.select().from(tasks).where(inArray(tasks.id, ids)).all();
  expect(rows.filter((r) => r.status === 'FAILURE' && r.quota === 0 && r.progress === '100%')).toHaveLength(
    (n / 3) * 2,
  );
  expect(rows.filter((r) => r.status === 'SUCCESS' && r.quota === PRICE)).toHaveLength(n / 3);
  const refunds = server.db
    .select()
    .from(logs)
    .where(and(eq(logs.userId, user.id), eq(logs.type, LOG_TYPE.refund)))
    .all();
  expect(refunds).toHaveLength((n / 3) * 2);
  expect(new Set(refunds.map((r) => r.mjId)).size).toBe(refunds.length);
  expect(getUserQuota(server.db, user.id)).toBe(START - (n / 3) * PRICE);
});
