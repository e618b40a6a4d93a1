import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'bun:test';
import type { DeliveryRow } from '../../src/contract/rows.ts';
import { openPgDatabase, type PgDB } from '../../src/db/pg/client.ts';
import {
  claimDeliveryPg,
  deliverySecretPg,
  enqueueTaskChangePg,
  listDeliveriesPg,
  markAttemptFailedPg,
  markDeliveredPg,
  markRefusedPg,
  PG_CLAIM_LEASE_MS,
  PG_MAX_DELIVERY_ATTEMPTS,
  pgRetryDelayMs,
  recordTaskHookPg,
  selectDueDeliveriesPg,
} from '../../src/db/pg/outbox.ts';
import { CLAIM_LEASE_MS } from '../../src/db/sqlite/outbox-worker.ts';
import { MAX_DELIVERY_ATTEMPTS, retryDelayMs } from '../../src/domain/webhooks-sign.ts';
import { type TempPg, tempPg } from '../helpers/pg.ts';

/**
 * The webhook outbox on a real PostgreSQL server, with the SQLite outbox's semantics: deliveries
 * written in the change's transaction, each task's changes in order, claims exclusive across
 * several PgDB instances (as replicas), the same backoff and end, and the paged list.
 */

const NOW = 1_790_000_000_000;
let t: TempPg;
const replicas: PgDB[] = [];
let userId: number;
let tokenId: number;

beforeAll(async () => {
  t = await tempPg();
  for (let i = 0; i < 3; i++) replicas.push(await openPgDatabase(t.url, { poolSize: 4 }));
  const sql = t.db.$client;
  const [u] = await sql`INSERT INTO users (username, created_time) VALUES ('hooker', ${NOW}) RETURNING id`;
  const [k] = await sql`INSERT INTO tokens (user_id, key, webhook_secret, created_time)
    VALUES (${u!.id}, 'sk-hook', 'whsec_abc', ${NOW}) RETURNING id`;
  userId = u!.id;
  tokenId = k!.id;
});

afterAll(async () => {
  for (const r of replicas) await r.$client.end({ timeout: 1 });
  await t.cleanup();
});

beforeEach(async () => {
  await t.db.$client`TRUNCATE webhook_deliveries, task_webhooks, tasks`;
});

/** A task (hooked unless told otherwise), inserted with its hook in one transaction like a submit. */
async function task(mjId: string, hooked = true, uid = userId): Promise<number> {
  return t.db.$client.begin(async (sql) => {
    const [row] =
      await sql`INSERT INTO tasks (user_id, token_id, mj_id, status, submit_time) VALUES (${uid}, ${tokenId}, ${mjId}, 'SUBMITTED', ${NOW}) RETURNING id`;
    if (hooked)
      await recordTaskHookPg(sql, { taskId: row!.id, userId: uid, tokenId, url: `http://hooks.example/${mjId}` });
    return row!.id as number;
  });
}

/** A task change and its deliveries in one transaction, as the poller and the relay write them. */
async function change(ids: number[], status: string, now = NOW): Promise<number> {
  return t.db.$client.begin(async (sql) => {
    await sql`UPDATE tasks SET status = ${status}, updated_time = ${now} WHERE id = ANY(${ids}::int[])`;
    return enqueueTaskChangePg(sql, ids, now, (row) => JSON.stringify({ id: row.mjId, status: row.status }));
  });
}

// Every hook here is on one receiver of one user: the per-receiver and per-user shares are lifted,
// so these tests see the order and the claims alone (tests/integration/webhook-fairness.test.ts has the shares).
const due = (now = NOW, limit = 100, db: PgDB = t.db) => selectDueDeliveriesPg(db, now, limit, 100, 100);
type Stored = Pick<DeliveryRow, 'status' | 'attempts' | 'nextAttemptAt' | 'lastError' | 'deliveredTime'>;
const byId = async (id: number): Promise<Stored> => ({
  ...(
    await t.db.$client<Stored[]>`SELECT status, attempts, next_attempt_at AS "nextAttemptAt",
  last_error AS "lastError", delivered_time AS "deliveredTime" FROM webhook_deliveries WHERE id = ${id}`
  )[0]!,
});

describe('pg outbox: writing', () => {
  test('one delivery per hooked task, carrying the payload as the change left the task; none for unhooked ones', async () => {
    const a = await task('A');
    const b = await task('B', false);
    expect(await change([a, b, a], 'IN_PROGRESS')).toBe(1);
    const [row, ...rest] = await due();
    expect(rest).toEqual([]);
    expect(row).toMatchObject({
      taskId: a,
      userId,
      tokenId,
      mjId: 'A',
      url: 'http://hooks.example/A',
      payload: '{"id":"A","status":"IN_PROGRESS"}',
      status: 'pending',
      attempts: 0,
      nextAttemptAt: NOW,
      lastError: '',
      createdTime: NOW,
      deliveredTime: 0,
    });
  });

  test('a rolled-back change leaves no delivery; a re-recorded hook takes the new URL', async () => {
    const a = await task('A');
    await t.db.$client
      .begin(async (sql) => {
        await enqueueTaskChangePg(sql, [a], NOW, () => '{}');
        throw new Error('rolled back');
      })
      .catch(() => {});
    expect(await due()).toEqual([]);
    await recordTaskHookPg(t.db, { taskId: a, userId, tokenId, url: 'http://hooks.example/new' });
    await change([a], 'SUCCESS');
    expect((await due()).map((r) => r.url)).toEqual(['http://hooks.example/new']);
  });
});

describe('pg outbox: order per task', () => {
  test('a later change of a task is not due while an earlier one is pending', async () => {
    const a = await task('A');
    const b = await task('B');
    await change([a], 'SUBMITTED');
    await change([a, b], 'IN_PROGRESS');
    await change([a], 'SUCCESS');
    const first = await due();
    expect(first.map((r) => [r.mjId, r.payload])).toEqual([
      ['A', '{"id":"A","status":"SUBMITTED"}'],
      ['B', '{"id":"B","status":"IN_PROGRESS"}'],
    ]);
    // A's first change failed once: its retry is later, and A's next change still waits for it.
    await markAttemptFailedPg(t.db, first[0]!, NOW, 'HTTP 500');
    expect((await due(NOW + retryDelayMs(1) - 1)).map((r) => r.mjId)).toEqual(['B']);
    const retry = (await due(NOW + retryDelayMs(1)))[0]!;
    expect(retry.id).toBe(first[0]!.id);
    expect(await markDeliveredPg(t.db, retry, NOW + 1000)).toBe(true);
    expect((await due(NOW + 1000)).map((r) => [r.mjId, r.payload])).toEqual([
      ['A', '{"id":"A","status":"IN_PROGRESS"}'],
      ['B', '{"id":"B","status":"IN_PROGRESS"}'],
    ]);
    // A failed-for-good change no longer holds back the next one (which comes after B's, in id order).
    await markRefusedPg(t.db, (await due(NOW + 1000))[0]!, 'refused: private address');
    expect((await due(NOW + 1000)).map((r) => r.payload)).toEqual([
      '{"id":"B","status":"IN_PROGRESS"}',
      '{"id":"A","status":"SUCCESS"}',
    ]);
  });

  test('due rows come in id order, limited, and not before their time', async () => {
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push(await task(`T${i}`));
    await change(ids, 'IN_PROGRESS', NOW + 50);
    expect(await due(NOW + 49)).toEqual([]);
    expect((await due(NOW + 50, 3)).map((r) => r.taskId)).toEqual(ids.slice(0, 3));
  });
});

describe('pg outbox: claims across replicas', () => {
  test('3 replicas racing for the same 30 due rows: each row is claimed exactly once', async () => {
    const ids = [];
    for (let i = 0; i < 30; i++) ids.push(await task(`C${i}`));
    await change(ids, 'IN_PROGRESS');
    // Every replica reads the same due rows, then all claim them at once (as workers on 3 leaders would).
    const seen = await Promise.all(replicas.map((r) => due(NOW, 100, r)));
    expect(seen.map((rows) => rows.length)).toEqual([30, 30, 30]);
    const claims = await Promise.all(
      seen.flatMap((rows, i) =>
        rows.map(async (row) => ((await claimDeliveryPg(replicas[i]!, row, NOW)) ? row.id : null)),
      ),
    );
    const won = claims.filter((id): id is number => id !== null).sort((x, y) => x - y);
    expect(won).toEqual(seen[0]!.map((r) => r.id).sort((x, y) => x - y));
    // Claimed rows are out of sight for the claim's lease, and back after it (a sender that died).
    expect(PG_CLAIM_LEASE_MS).toBe(CLAIM_LEASE_MS);
    expect(await due(NOW + CLAIM_LEASE_MS - 1)).toEqual([]);
    expect(await due(NOW + CLAIM_LEASE_MS)).toHaveLength(30);
  });

  test('a claim or a record made from a stale row loses', async () => {
    const a = await task('A');
    await change([a], 'SUCCESS');
    const [row] = await due();
    expect(await claimDeliveryPg(t.db, row!, NOW)).toBe(true);
    expect(await claimDeliveryPg(t.db, row!, NOW)).toBe(false);
    expect(await markDeliveredPg(t.db, row!, NOW + 5)).toBe(true);
    expect(await markDeliveredPg(t.db, row!, NOW + 6)).toBe(false);
    expect(await markAttemptFailedPg(t.db, row!, NOW + 7, 'late')).toBe('retry');
    expect(await byId(row!.id)).toEqual({
      status: 'delivered',
      attempts: 1,
      nextAttemptAt: NOW + CLAIM_LEASE_MS,
      lastError: '',
      deliveredTime: NOW + 5,
    });
  });
});

describe('pg outbox: attempts', () => {
  test('backoff of 1 s doubling, then failed after the 8th attempt with the last error', async () => {
    expect(PG_MAX_DELIVERY_ATTEMPTS).toBe(MAX_DELIVERY_ATTEMPTS);
    const a = await task('A');
    await change([a], 'SUCCESS');
    let now = NOW;
    const outcomes = [];
    for (let attempt = 1; attempt <= MAX_DELIVERY_ATTEMPTS; attempt++) {
      const [row] = await due(now);
      expect(row!.attempts).toBe(attempt - 1);
      expect(await claimDeliveryPg(t.db, row!, now)).toBe(true);
      outcomes.push(await markAttemptFailedPg(t.db, row!, now, `HTTP 50${attempt}`));
      const after = await byId(row!.id);
      if (attempt < MAX_DELIVERY_ATTEMPTS) {
        expect(after.nextAttemptAt).toBe(now + retryDelayMs(attempt));
        expect(pgRetryDelayMs(attempt)).toBe(retryDelayMs(attempt));
        expect(await due(after.nextAttemptAt - 1)).toEqual([]);
        now = after.nextAttemptAt;
      } else {
        expect(after).toMatchObject({ status: 'failed', attempts: 8, lastError: 'HTTP 508' });
      }
    }
    expect(outcomes).toEqual(['retry', 'retry', 'retry', 'retry', 'retry', 'retry', 'retry', 'failed']);
    expect(await due(Number.MAX_SAFE_INTEGER)).toEqual([]);
  });

  test('errors are cut to 500 characters; a refusal fails at once without counting an attempt', async () => {
    const a = await task('A');
    const b = await task('B');
    await change([a, b], 'SUCCESS');
    const [ra, rb] = await due();
    await markAttemptFailedPg(t.db, ra!, NOW, 'x'.repeat(2000));
    expect((await byId(ra!.id)).lastError).toHaveLength(500);
    await markRefusedPg(t.db, rb!, 'refused: private address');
    expect(await byId(rb!.id)).toMatchObject({ status: 'failed', attempts: 0, lastError: 'refused: private address' });
  });

  test('the signing secret of the key, or why there is none', async () => {
    expect(await deliverySecretPg(t.db, tokenId)).toEqual({ secret: 'whsec_abc', previous: null, rotatedAt: null });
    const [k] = await t.db
      .$client`INSERT INTO tokens (user_id, key, created_time) VALUES (${userId}, 'sk-nosecret', ${NOW}) RETURNING id`;
    expect(await deliverySecretPg(t.db, k!.id)).toEqual({ missing: `API key ${k!.id} has no webhook secret` });
    expect(await deliverySecretPg(t.db, 999_999)).toEqual({ missing: 'API key 999999 no longer exists' });
  });
});

describe('pg outbox: list', () => {
  test("newest first, paged, one user's or everyone's, never the payload", async () => {
    const [other] = await t.db
      .$client`INSERT INTO users (username, created_time) VALUES ('other', ${NOW}) RETURNING id`;
    const mine = [];
    for (let i = 0; i < 25; i++) mine.push(await task(`M${i}`));
    const theirs = [];
    for (let i = 0; i < 5; i++) theirs.push(await task(`O${i}`, true, other!.id));
    await change([...mine, ...theirs], 'SUCCESS');
    const p1 = await listDeliveriesPg(t.db, userId, 1, 10);
    expect(p1.total).toBe(25);
    expect(p1.page).toBe(1);
    expect(p1.page_size).toBe(10);
    expect(p1.items.map((i) => i.mj_id)).toEqual(Array.from({ length: 10 }, (_, i) => `M${24 - i}`));
    expect(Object.keys(p1.items[0]!).sort()).toEqual([
      'attempts',
      'created_time',
      'delivered_time',
      'id',
      'last_error',
      'mj_id',
      'next_attempt_at',
      'status',
      'task_id',
      'url',
      'user_id',
    ]);
    expect(p1.items[0]).toMatchObject({
      user_id: userId,
      status: 'pending',
      attempts: 0,
      created_time: NOW,
      url: 'http://hooks.example/M24',
    });
    const p3 = await listDeliveriesPg(t.db, userId, 3, 10);
    expect(p3.items.map((i) => i.mj_id)).toEqual(['M4', 'M3', 'M2', 'M1', 'M0']);
    expect((await listDeliveriesPg(t.db, userId, 4, 10)).items).toEqual([]);
    const all = await listDeliveriesPg(t.db, null, 1, 100);
    expect(all.total).toBe(30);
    expect(all.items.slice(0, 5).map((i) => i.mj_id)).toEqual(['O4', 'O3', 'O2', 'O1', 'O0']);
    expect((await listDeliveriesPg(t.db, other!.id, 1, 10)).total).toBe(5);
  });
});
