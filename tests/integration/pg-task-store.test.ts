import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import type { TaskStore } from '../../src/contract/tasks.ts';
import type { PgDB } from '../../src/db/pg/client.ts';
import { openPgDatabase } from '../../src/db/pg/client.ts';
import { onTaskChanges } from '../../src/db/pg/notify.ts';
import { createPgTaskStore } from '../../src/db/pg/task-store.ts';
import { renderListing } from '../../src/domain/listing-render.ts';
import { tempPg } from '../helpers/pg.ts';
import { waitFor } from '../helpers/server.ts';
import { taskStoreBehaviour } from '../helpers/task-store-behaviour.ts';
import {
  type Backend,
  balances,
  charged,
  chargeOf,
  fx,
  makeChannel,
  NOW,
  PRICE,
  payload,
  pgBackend,
  sqliteBackend,
  syncFields,
} from './pg-task-store-fixture.ts';
import { feedScenario, listingScenario, raceScenario, scenarios } from './pg-task-store-scenarios.ts';

/**
 * The TaskStore contract, run against both adapters with identical expectations: the SQLite one
 * over a temp file and the PostgreSQL one over a fresh database on the suite's server (each with
 * three stores on separate connections / pools, as replicas). The scenarios are written once, in
 * pg-task-store-scenarios.ts; then the PostgreSQL-only announcements and the shared behaviour cases.
 */

/** db/ may not import domain/: the PostgreSQL adapter is the domain's TaskStore structurally, checked by the type checker here. */
export const pgTaskStoreOf: (db: PgDB) => TaskStore = (db) => createPgTaskStore(db, renderListing);

const backends: Array<[string, () => Promise<Backend>]> = [
  ['SQLite', sqliteBackend],
  ['PostgreSQL', pgBackend],
];

for (const [label, open] of backends) {
  describe(`TaskStore on ${label}`, () => {
    let b: Backend;
    beforeAll(async () => {
      b = await open();
    });
    afterAll(async () => {
      await b?.close();
    });
    // The listing runs first, on an empty database, so its ids and totals are the same on both.
    for (const [name, run] of [listingScenario, ...scenarios, raceScenario, feedScenario]) test(name, () => run(b));
    test('balance identity after the mixed run: quota = Σ type-4 − Σ consumed + Σ refunded, for every user', async () => {
      const rows = await balances(b);
      expect(rows.length).toBeGreaterThan(10);
      for (const r of rows) expect(r.fromLogs).toBe(r.quota);
    });
  });
}

/**
 * PostgreSQL only (SQLite's feed is in-process): every write that changed a task announces it
 * inside its transaction, so another replica's listener hears exactly the winning writes, in
 * commit order; a refused charge and every lost compare-and-set announce nothing.
 */
test('PostgreSQL: the writes that changed a task announce it to other replicas, the others do not', async () => {
  const t = await tempPg();
  const other = await openPgDatabase(t.url, { poolSize: 2 });
  const got: number[] = [];
  const stop = await onTaskChanges(other, (ids) => got.push(...ids));
  try {
    const s = pgTaskStoreOf(t.db);
    const quiet: TaskStore = createPgTaskStore(other, renderListing, { notifyChanges: false });
    const b = {
      all: async <T>(text: string, ...params: unknown[]) =>
        [...(await t.db.$client.unsafe(text, params as never[]))] as T[],
    } as Backend;
    const f = await fx(b, { quota: 4 * PRICE });
    const c2 = await makeChannel(b);
    const [t1, t2, t3] = [await charged(s, f, 0), await charged(s, f, 1), await charged(s, f, 2)];
    expect(await s.money.chargeAndRecord(chargeOf(f, 3, { quota: 5 * PRICE }))).toBe('quota_not_enough');
    const params = {
      taskId: t2,
      mjId: 'mj-n',
      code: 1,
      description: '',
      properties: '',
      now: NOW + 5,
      status: 'SUCCESS',
      progress: '100%',
      imageUrl: '',
    };
    expect(await s.money.settleAccepted({ done: true, withImage: false, params }, null)).toBe(true);
    expect(await s.money.settleAccepted({ done: true, withImage: false, params }, null)).toBe(false);
    expect(await s.money.moveTaskChannel(t1, f.channelId, c2, NOW + 6)).toBe(true);
    expect(await s.money.moveTaskChannel(t1, f.channelId, c2, NOW + 6)).toBe(false);
    expect((await s.money.failAndRefund(t3, PRICE, { failReason: 'x' }, NOW + 7, 'mj_imagine')).won).toBe(true);
    expect((await s.money.failAndRefund(t3, PRICE, { failReason: 'x' }, NOW + 7, 'mj_imagine')).won).toBe(false);
    await charged(quiet, f, 4);
    const r = await s.sync.apply(
      [
        { kind: 'update', taskId: t1, fields: syncFields({}) },
        { kind: 'update', taskId: t2, fields: syncFields({}) },
      ],
      NOW + 8,
      payload,
    );
    expect(r.map((x) => x.won)).toEqual([true, false]);
    // Charges, the settle, the move, the refund, the batch's one written row; in commit order.
    await waitFor(() => got.length >= 7, 'the announcements');
    expect(got).toEqual([t1, t2, t3, t2, t1, t3, t1]);
  } finally {
    await stop();
    await other.$client.end({ timeout: 1 });
    await t.cleanup();
  }
});

/**
 * The shared behaviour cases (tests/helpers/task-store-behaviour.ts) on PostgreSQL: one database,
 * emptied before each case (a database per case cost half a second each).
 */
let behaviourDb: Promise<Awaited<ReturnType<typeof tempPg>>> | null = null;
afterAll(async () => {
  await (await behaviourDb)?.cleanup();
});
taskStoreBehaviour('postgres', async () => {
  behaviourDb ??= tempPg({ poolSize: 2 });
  const t = await behaviourDb;
  const sql = t.db.$client;
  await sql`TRUNCATE tasks, logs, webhook_deliveries, task_webhooks, rate_limit_windows, task_counters, task_time_buckets,
    task_id_blocks, tokens, users, channels RESTART IDENTITY CASCADE`;
  const [u] = await sql`INSERT INTO users (username, quota, created_time) VALUES ('behaviour', 150, 0) RETURNING id`;
  const [k] =
    await sql`INSERT INTO tokens (user_id, key, unlimited_quota, created_time) VALUES (${u!.id}, 'behaviour', true, 0) RETURNING id`;
  const [c] =
    await sql`INSERT INTO channels (name, base_url, created_time) VALUES ('c', 'http://127.0.0.1:1', 0) RETURNING id`;
  return {
    store: pgTaskStoreOf(t.db),
    userId: u!.id,
    tokenId: k!.id,
    channelId: c!.id,
    userQuota: async () => (await sql<Array<{ q: number }>>`SELECT quota AS q FROM users WHERE id = ${u!.id}`)[0]!.q,
    taskCount: async () => (await sql<Array<{ n: number }>>`SELECT count(*) AS n FROM tasks`)[0]!.n,
  };
});
