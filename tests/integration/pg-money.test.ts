import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import type { ChargeInput } from '../../src/contract/tasks.ts';
import { openPgDatabase, type PgDB } from '../../src/db/pg/client.ts';
import { failAndRefundPg, grantQuotaLoggedPg, setQuotaLoggedPg, settleAcceptedPg } from '../../src/db/pg/money.ts';
import { chargeAndRecordTaskPg } from '../../src/db/pg/task-money.ts';

/** The store's charge (the one the gateway runs), as a task id or null when the quota is short. */
async function chargeAndRecordPg(db: PgDB, input: ChargeInput): Promise<number | null> {
  const id = await chargeAndRecordTaskPg(db, input);
  return id === 'quota_not_enough' ? null : id;
}

import { type TempPg, tempPg } from '../helpers/pg.ts';

/**
 * The PostgreSQL money paths on a real server, from many connections and from several PgDB
 * instances (as replicas): the guards hold in SQL, so nothing overdraws and nothing refunds twice.
 */

const PRICE = 100;
const NOW = 1_712_016_000_000;

interface Fixture {
  userId: number;
  tokenId: number;
  channelId: number;
}

async function fixture(db: PgDB, o: { quota: number; remain: number; unlimited: boolean }): Promise<Fixture> {
  const sql = db.$client;
  const name = `u${Math.random().toString(36).slice(2, 10)}`;
  const [u] = await sql`INSERT INTO users (username, quota, created_time) VALUES (${name}, 0, ${NOW}) RETURNING id`;
  // The starting quota is an admin's change, logged, so the balance identity covers it.
  await setQuotaLoggedPg(db, u!.id, o.quota, 'by test', NOW);
  const [k] = await sql`INSERT INTO tokens (user_id, key, remain_quota, unlimited_quota, created_time)
    VALUES (${u!.id}, ${name}, ${o.remain}, ${o.unlimited}, ${NOW}) RETURNING id`;
  const [c] =
    await sql`INSERT INTO channels (name, base_url, created_time) VALUES (${name}, 'http://127.0.0.1:1', ${NOW}) RETURNING id`;
  return { userId: u!.id, tokenId: k!.id, channelId: c!.id };
}

function charge(f: Fixture, unlimited: boolean, i = 0): ChargeInput {
  return {
    userId: f.userId,
    tokenId: f.tokenId,
    unlimitedToken: unlimited,
    channelId: f.channelId,
    modelName: 'mj_imagine',
    quota: PRICE,
    now: NOW + i,
    task: { action: 'IMAGINE', prompt: `p${i}`, submitTime: NOW + i, updatedTime: NOW + i },
  };
}

async function state(db: PgDB, f: Fixture) {
  const [row] = await db.$client`SELECT
    (SELECT quota FROM users WHERE id = ${f.userId}) AS quota,
    (SELECT used_quota FROM users WHERE id = ${f.userId}) AS used,
    (SELECT request_count FROM users WHERE id = ${f.userId}) AS requests,
    (SELECT remain_quota FROM tokens WHERE id = ${f.tokenId}) AS remain,
    (SELECT used_quota FROM tokens WHERE id = ${f.tokenId}) AS token_used,
    (SELECT used_quota FROM channels WHERE id = ${f.channelId}) AS channel_used,
    (SELECT count(*) FROM tasks WHERE user_id = ${f.userId}) AS tasks,
    (SELECT count(*) FROM logs WHERE user_id = ${f.userId} AND type = 2) AS consumed,
    (SELECT count(*) FROM logs l JOIN tasks t ON t.id = l.task_id WHERE l.user_id = ${f.userId} AND l.type = 2 AND l.quota = t.quota) AS linked`;
  return row!;
}

/** quota = Σ type-4 − Σ consumed + Σ refunded, from the logs alone. */
async function balanceHolds(db: PgDB, userId: number): Promise<{ quota: number; fromLogs: number }> {
  const [row] = await db.$client`SELECT (SELECT quota FROM users WHERE id = ${userId}) AS quota,
    coalesce(sum(CASE type WHEN 4 THEN quota WHEN 2 THEN -quota WHEN 6 THEN quota END), 0)::bigint AS from_logs
    FROM logs WHERE user_id = ${userId}`;
  return { quota: row!.quota, fromLogs: row!.from_logs };
}

describe('PostgreSQL money paths under concurrency', () => {
  let t: TempPg;
  const replicas: PgDB[] = [];
  beforeAll(async () => {
    t = await tempPg({ poolSize: 8 });
    for (let i = 0; i < 3; i++) replicas.push(await openPgDatabase(t.url, { poolSize: 4 }));
  });
  afterAll(async () => {
    for (const r of replicas) await r.$client.end({ timeout: 1 });
    await t?.cleanup();
  });

  test('30 concurrent charges on one pool against quota for 5: exactly 5 charged', async () => {
    const f = await fixture(t.db, { quota: 5 * PRICE, remain: 0, unlimited: true });
    const ids = await Promise.all(Array.from({ length: 30 }, (_, i) => chargeAndRecordPg(t.db, charge(f, true, i))));
    expect(ids.filter((id) => id !== null).length).toBe(5);
    expect(await state(t.db, f)).toEqual({
      quota: 0,
      used: 5 * PRICE,
      requests: 5,
      remain: 0,
      token_used: 5 * PRICE,
      channel_used: 5 * PRICE,
      tasks: 5,
      consumed: 5,
      linked: 5,
    });
  });

  test('30 concurrent charges through 3 instances (replicas): exactly 5 charged', async () => {
    const f = await fixture(t.db, { quota: 5 * PRICE, remain: 0, unlimited: true });
    const ids = await Promise.all(
      Array.from({ length: 30 }, (_, i) => chargeAndRecordPg(replicas[i % 3]!, charge(f, true, i))),
    );
    expect(ids.filter((id) => id !== null).length).toBe(5);
    expect(await state(t.db, f)).toMatchObject({
      quota: 0,
      used: 5 * PRICE,
      requests: 5,
      tasks: 5,
      consumed: 5,
      linked: 5,
    });
  });

  test("a key's remain_quota guards the same way, and a refused key rolls the user's charge back", async () => {
    const f = await fixture(t.db, { quota: 1000 * PRICE, remain: 5 * PRICE, unlimited: false });
    const ids = await Promise.all(
      Array.from({ length: 30 }, (_, i) => chargeAndRecordPg(replicas[i % 3]!, charge(f, false, i))),
    );
    expect(ids.filter((id) => id !== null).length).toBe(5);
    expect(await state(t.db, f)).toEqual({
      quota: 995 * PRICE,
      used: 5 * PRICE,
      requests: 5,
      remain: 0,
      token_used: 5 * PRICE,
      channel_used: 5 * PRICE,
      tasks: 5,
      consumed: 5,
      linked: 5,
    });
  });

  test('concurrent refunds of one task from 3 instances refund exactly once', async () => {
    const f = await fixture(t.db, { quota: 3 * PRICE, remain: 3 * PRICE, unlimited: false });
    const id = (await chargeAndRecordPg(t.db, charge(f, false)))!;
    expect(
      await settleAcceptedPg(t.db, id, {
        mjId: 'mj-77',
        code: 1,
        description: 'Submit success',
        properties: '',
        status: '',
        progress: '0%',
        updatedTime: NOW,
      }),
    ).toBe(true);
    const [consume] = await t.db.$client`SELECT mj_id FROM logs WHERE task_id = ${id} AND type = 2`;
    expect(consume!.mj_id).toBe('mj-77');
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        failAndRefundPg(replicas[i % 3]!, id, PRICE, { failReason: `upstream failed ${i}` }, NOW + 1, 'mj_imagine'),
      ),
    );
    expect(results.filter((r) => r.won).length).toBe(1);
    expect(results.reduce((s, r) => s + r.refunded, 0)).toBe(PRICE);
    expect(await state(t.db, f)).toMatchObject({
      quota: 3 * PRICE,
      used: 0,
      remain: 3 * PRICE,
      token_used: 0,
      channel_used: 0,
    });
    const refunds = await t.db.$client`SELECT quota, task_id, mj_id FROM logs WHERE user_id = ${f.userId} AND type = 6`;
    expect([...refunds]).toEqual([{ quota: PRICE, task_id: id, mj_id: 'mj-77' }]);
    const [task] = await t.db.$client`SELECT quota, progress, status FROM tasks WHERE id = ${id}`;
    expect(task).toEqual({ quota: 0, progress: '100%', status: 'FAILURE' });
    // The ended task cannot be settled any more.
    expect(
      await settleAcceptedPg(t.db, id, {
        mjId: 'mj-78',
        code: 1,
        description: '',
        properties: '',
        status: '',
        progress: '0%',
        updatedTime: NOW,
      }),
    ).toBe(false);
  });

  test('a rejected submit names its upstream id on the task, the charge and the refund', async () => {
    const f = await fixture(t.db, { quota: PRICE, remain: 0, unlimited: true });
    const id = (await chargeAndRecordPg(t.db, charge(f, true)))!;
    const r = await failAndRefundPg(
      t.db,
      id,
      PRICE,
      { failReason: 'banned prompt', mjId: 'mj-rej', code: 4 },
      NOW,
      'mj_imagine',
    );
    expect(r).toEqual({ won: true, refunded: PRICE });
    const rows = await t.db.$client`SELECT type, mj_id FROM logs WHERE task_id = ${id} ORDER BY type`;
    expect([...rows]).toEqual([
      { type: 2, mj_id: 'mj-rej' },
      { type: 6, mj_id: 'mj-rej' },
    ]);
    expect(await state(t.db, f)).toMatchObject({ quota: PRICE, remain: 0, token_used: 0 });
  });

  test('admin quota changes log the signed delta read under the row lock', async () => {
    const f = await fixture(t.db, { quota: 10 * PRICE, remain: 0, unlimited: true });
    const row = await setQuotaLoggedPg(t.db, f.userId, 4 * PRICE, 'by admin 1 (root)', NOW);
    expect(row).toMatchObject({ id: f.userId, quota: 4 * PRICE });
    expect(await setQuotaLoggedPg(t.db, f.userId, 4 * PRICE, 'again', NOW)).toMatchObject({ quota: 4 * PRICE });
    expect(await setQuotaLoggedPg(t.db, 999_999, 1, 'nobody', NOW)).toBeNull();
    expect(await grantQuotaLoggedPg(t.db, f.userId, 50, 'demo grant', NOW)).toBe(true);
    const logs = await t.db
      .$client`SELECT quota, content FROM logs WHERE user_id = ${f.userId} AND type = 4 ORDER BY id`;
    expect([...logs]).toEqual([
      { quota: 10 * PRICE, content: `quota set to ${10 * PRICE} (+${10 * PRICE}) by test` },
      { quota: -6 * PRICE, content: `quota set to ${4 * PRICE} (-${6 * PRICE}) by admin 1 (root)` },
      { quota: 50, content: 'quota +50 demo grant' },
    ]);
  });

  test('the balance identity holds after a mixed concurrent run through 3 instances', async () => {
    const f = await fixture(t.db, { quota: 20 * PRICE, remain: 0, unlimited: true });
    const work: Array<Promise<unknown>> = [];
    for (let i = 0; i < 40; i++) {
      const r = replicas[i % 3]!;
      work.push(
        chargeAndRecordPg(r, charge(f, true, i)).then(async (id) => {
          if (id !== null && i % 3 === 0) {
            // Two replicas race to refund the same task; one wins.
            await Promise.all(
              [r, replicas[(i + 1) % 3]!].map((x) =>
                failAndRefundPg(x, id, PRICE, { failReason: 'x' }, NOW, 'mj_imagine'),
              ),
            );
          }
        }),
      );
      if (i % 10 === 5) work.push(setQuotaLoggedPg(r, f.userId, 7 * PRICE, 'by admin', NOW));
      if (i % 10 === 7) work.push(grantQuotaLoggedPg(r, f.userId, 3 * PRICE, 'grant', NOW));
    }
    await Promise.all(work);
    const b = await balanceHolds(t.db, f.userId);
    expect(b.fromLogs).toBe(b.quota);
    const [refunds] = await t.db
      .$client`SELECT count(*) AS n, count(DISTINCT task_id) AS tasks FROM logs WHERE user_id = ${f.userId} AND type = 6`;
    expect(refunds!.n).toBe(refunds!.tasks);
    expect(refunds!.n).toBeGreaterThan(0);
    // Every earlier fixture balances too.
    const users = await t.db.$client`SELECT id FROM users`;
    for (const u of users) {
      const x = await balanceHolds(t.db, u.id);
      expect(x.fromLogs).toBe(x.quota);
    }
  });
});
