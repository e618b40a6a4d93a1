import { afterAll, beforeAll, expect, test } from 'bun:test';
import type { TestUser } from '../helpers/factories.ts';
import { addUser } from '../helpers/rows.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

/**
 * The heaviest listing shape (a user who owns half the rows, `end_timestamp` in the middle) runs
 * back to back while `/healthz` is asked: bun:sqlite is synchronous, so health answers between
 * listings only because each listing is short (its work is bounded; see query-plan.test.ts). On
 * PostgreSQL (TEST_BACKEND=postgres) the same shape runs on the server, and the listings stay exact.
 */
let srv: TestServer;
let alice: TestUser;
const ROWS = 8_000;
const BASE = 1_712_016_000_000;
const middle = BASE + (ROWS / 2) * 2_600;

beforeAll(async () => {
  srv = await startTestServer();
  alice = await addUser(srv.handle);
  const other = await addUser(srv.handle);
  // One statement on either database: the numbers are this file's own.
  await srv.sql(`WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < ${ROWS - 1})
    INSERT INTO tasks (user_id, channel_id, mj_id, submit_time)
    SELECT CASE WHEN i % 2 = 0 THEN ${alice.id} ELSE ${other.id} END, i % 4, 'mj' || i, ${BASE} + i * 2600 FROM s`);
});

afterAll(async () => {
  await srv?.stop();
});

test('/healthz answers between heavy listings, and the listings stay exact', async () => {
  const reference = await srv.sql<{ id: number }>(
    'SELECT id FROM tasks WHERE user_id = $1 AND submit_time <= $2 ORDER BY id DESC LIMIT 20',
    alice.id,
    middle,
  );
  const [{ n: total }] = (await srv.sql<{ n: number }>(
    'SELECT CAST(count(*) AS INTEGER) AS n FROM tasks WHERE user_id = $1 AND submit_time <= $2',
    alice.id,
    middle,
  )) as [{ n: number }];
  let done = 0;
  let healthy = false;
  const listings = (async () => {
    // Keep listing until health has answered (bounded, so a hung health check fails the test).
    for (let i = 0; i < 400 && !healthy; i++) {
      const res = await fetch(`${srv.url}/api/mj/self?end_timestamp=${middle}`, { headers: alice.headers });
      const body = (await res.json()) as { data: { items: Array<{ id: number }>; total: number } };
      expect(body.data.total).toBe(total);
      expect(body.data.items.map((x) => x.id)).toEqual(reference.map((r) => r.id));
      done++;
    }
  })();
  const health = await fetch(`${srv.url}/healthz`);
  expect(health.status).toBe(200);
  expect(await health.text()).toBe('ok');
  healthy = true;
  const doneAtHealth = done;
  await listings;
  expect(total).toBeGreaterThan(ROWS / 4);
  // Health came back while listings were still being served, not after the whole run.
  expect(doneAtHealth).toBeLessThan(400);
  expect(done).toBeGreaterThanOrEqual(doneAtHealth);
});
