import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import type { ChargeInput } from '../../src/contract/tasks.ts';
import type { PgDB } from '../../src/db/pg/client.ts';
import { pgSchema } from '../../src/db/pg/client.ts';
import { setQuotaLoggedPg } from '../../src/db/pg/money.ts';
import { onTaskChanges, taskNotesSent } from '../../src/db/pg/notify.ts';
import { chargeAndRecordTaskPg, failAndRefundTaskPg, settleTaskPg } from '../../src/db/pg/task-money.ts';
import { createPgFeedReads } from '../../src/db/pg/task-reads.ts';
import { type TempPg, tempPg } from '../helpers/pg.ts';
import { waitFor } from '../helpers/server.ts';

/**
 * What a PostgreSQL submit costs the server, in counts (issue 15 point 3): each money transaction
 * of a submit without a webhook is one statement, so one round trip (counted by the driver's
 * debug hook, BEGIN and COMMIT included), its notification sent after the commit in a batch of its
 * own (one NOTIFY for every note queued meanwhile); the listing triggers on `tasks` are one per kind of
 * write, in PL/pgSQL (plans kept per session), and no SQL-language function is left to re-plan.
 */

const NOW = 1_712_016_000_000;
let pg: TempPg;
let counted: PgDB;
let sent: string[] = [];
let countingClient: postgres.Sql;

beforeAll(async () => {
  pg = await tempPg();
  countingClient = postgres(pg.url, {
    max: 1,
    onnotice: () => {},
    types: { bigint: { to: 20, from: [20], serialize: (v: number) => String(v), parse: (v: string) => Number(v) } },
    debug: (_conn, query) => {
      sent.push(query);
    },
  });
  counted = drizzle({ client: countingClient, schema: pgSchema }) as unknown as PgDB;
  await countingClient`SELECT 1`;
});

afterAll(async () => {
  await countingClient.end({ timeout: 1 });
  await pg.cleanup();
});

async function account(remain: number): Promise<{ userId: number; tokenId: number; channelId: number }> {
  const sql = pg.db.$client;
  const name = `u${Math.random().toString(36).slice(2, 10)}`;
  const [u] = await sql`INSERT INTO users (username, quota, created_time) VALUES (${name}, 0, ${NOW}) RETURNING id`;
  await setQuotaLoggedPg(pg.db, u!.id, 1000, 'by test', NOW);
  const [k] = await sql`INSERT INTO tokens (user_id, key, remain_quota, unlimited_quota, created_time)
    VALUES (${u!.id}, ${name}, ${remain}, false, ${NOW}) RETURNING id`;
  const [c] =
    await sql`INSERT INTO channels (name, base_url, created_time) VALUES (${name}, 'http://127.0.0.1:1', ${NOW}) RETURNING id`;
  return { userId: u!.id, tokenId: k!.id, channelId: c!.id };
}

function charge(a: { userId: number; tokenId: number; channelId: number }, i: number): ChargeInput {
  return {
    ...a,
    unlimitedToken: false,
    modelName: 'mj_imagine',
    quota: 100,
    now: NOW + i,
    task: { action: 'IMAGINE', prompt: `p${i}`, submitTime: NOW + i, updatedTime: NOW + i },
  };
}

/** The batched send of writers' notes after their commit (notify.ts sendTaskNoteAfterCommit). */
const isNoteSend = (q: string) => /pg_notify/.test(q) && /unnest/.test(q);
/** The note sends that followed the last statementsOf's writes. */
let noteSends: string[] = [];

/** The statements `fn` sent through the counting client, its notes' sends after the commits apart. */
async function statementsOf(fn: () => Promise<unknown>): Promise<string[]> {
  sent = [];
  await fn();
  await taskNotesSent(counted);
  noteSends = sent.filter(isNoteSend);
  return sent.filter((q) => !isNoteSend(q));
}

describe('PostgreSQL submit cost', () => {
  test('charge, settle and refund without a webhook are one round trip each; the notification follows the commit', async () => {
    const a = await account(10_000);
    let taskId = 0;
    const chargeSent = await statementsOf(async () => {
      const id = await chargeAndRecordTaskPg(counted, charge(a, 1), true);
      if (id === 'quota_not_enough') throw new Error('charge refused');
      taskId = id;
    });
    expect(chargeSent).toHaveLength(1);
    expect(noteSends).toHaveLength(1);
    const settleSent = await statementsOf(() =>
      settleTaskPg(
        counted,
        {
          done: false,
          withImage: false,
          params: {
            taskId,
            mjId: 'mj-1',
            code: 1,
            description: 'ok',
            properties: '',
            now: NOW + 2,
            status: '',
            progress: '0%',
            imageUrl: '',
          },
        },
        null,
        true,
      ),
    );
    expect(settleSent).toHaveLength(1);
    expect(noteSends).toHaveLength(1);
    const second = await chargeAndRecordTaskPg(pg.db, charge(a, 3), true);
    if (second === 'quota_not_enough') throw new Error('charge refused');
    const refundSent = await statementsOf(async () => {
      const r = await failAndRefundTaskPg(
        counted,
        second,
        100,
        { failReason: 'upstream said no' },
        NOW + 4,
        'mj_imagine',
        undefined,
        true,
      );
      expect(r).toEqual({ won: true, refunded: 100 });
    });
    expect(refundSent).toHaveLength(1);
    expect(noteSends).toHaveLength(1);
    const [row] = await pg.db.$client`SELECT (SELECT mj_id FROM tasks WHERE id = ${taskId}) AS mj,
      (SELECT mj_id FROM logs WHERE task_id = ${taskId} AND type = 2) AS log_mj, (SELECT quota FROM users WHERE id = ${a.userId}) AS quota`;
    expect(row).toEqual({ mj: 'mj-1', log_mj: 'mj-1', quota: 900 });
  });

  test('with a webhook, settle and refund queue the delivery from the row they wrote: BEGIN, write, delivery, COMMIT', async () => {
    const a = await account(10_000);
    const hooked = async (i: number) => {
      const id = await chargeAndRecordTaskPg(pg.db, { ...charge(a, i), hookUrl: 'http://127.0.0.1:9/hook' }, true);
      if (id === 'quota_not_enough') throw new Error('charge refused');
      return id;
    };
    const payloadOf = (t: { id: number; mjId: string; status: string; quota: number }) =>
      JSON.stringify({ id: t.id, mjId: t.mjId, status: t.status, quota: t.quota });
    const first = await hooked(30);
    const settleSent = await statementsOf(async () => {
      expect(
        await settleTaskPg(
          counted,
          {
            done: true,
            withImage: false,
            params: {
              taskId: first,
              mjId: 'mj-h',
              code: 1,
              description: 'ok',
              properties: '',
              now: NOW + 31,
              status: 'SUCCESS',
              progress: '100%',
              imageUrl: '',
            },
          },
          payloadOf,
          true,
        ),
      ).toBe(true);
    });
    expect(settleSent).toHaveLength(4);
    const second = await hooked(32);
    const refundSent = await statementsOf(async () => {
      const r = await failAndRefundTaskPg(
        counted,
        second,
        100,
        { failReason: 'no' },
        NOW + 33,
        'mj_imagine',
        payloadOf,
        true,
      );
      expect(r).toEqual({ won: true, refunded: 100 });
    });
    expect(refundSent).toHaveLength(4);
    const rows = await pg.db.$client`SELECT task_id, user_id, token_id, mj_id, url, payload FROM webhook_deliveries
      WHERE task_id IN (${first}, ${second}) ORDER BY id`;
    expect([...rows]).toEqual([
      {
        task_id: first,
        user_id: a.userId,
        token_id: a.tokenId,
        mj_id: 'mj-h',
        url: 'http://127.0.0.1:9/hook',
        payload: JSON.stringify({ id: first, mjId: 'mj-h', status: 'SUCCESS', quota: 100 }),
      },
      {
        task_id: second,
        user_id: a.userId,
        token_id: a.tokenId,
        mj_id: '',
        url: 'http://127.0.0.1:9/hook',
        payload: JSON.stringify({ id: second, mjId: '', status: 'FAILURE', quota: 0 }),
      },
    ]);
    // A lost compare-and-set queues nothing.
    const lostSent = await statementsOf(async () => {
      const r = await failAndRefundTaskPg(
        counted,
        second,
        100,
        { failReason: 'again' },
        NOW + 34,
        'mj_imagine',
        payloadOf,
        true,
      );
      expect(r).toEqual({ won: false, refunded: 0 });
    });
    expect(lostSent).toHaveLength(3);
    expect(noteSends).toEqual([]);
    const [n] = await pg.db.$client`SELECT count(*)::int AS n FROM webhook_deliveries WHERE task_id = ${second}`;
    expect(n!.n).toBe(1);
  });

  test('a token that cannot pay after the user could: one round trip, nothing written', async () => {
    const a = await account(50);
    const before = await pg.db.$client`SELECT quota, used_quota, request_count FROM users WHERE id = ${a.userId}`;
    const results: Array<number | 'quota_not_enough'> = [];
    const refusedSent = await statementsOf(async () => {
      results.push(await chargeAndRecordTaskPg(counted, charge(a, 5), true));
    });
    expect(results).toEqual(['quota_not_enough']);
    expect(refusedSent).toHaveLength(1);
    expect(noteSends).toEqual([]);
    expect(await pg.db.$client`SELECT quota, used_quota, request_count FROM users WHERE id = ${a.userId}`).toEqual(
      before,
    );
    const [n] = await pg.db.$client`SELECT count(*)::int AS tasks FROM tasks WHERE user_id = ${a.userId}`;
    expect(n!.tasks).toBe(0);
  });

  test("a submit's statements are planned once per connection, not again on every call", async () => {
    const a = await account(1_000_000);
    await pg.db.$client`UPDATE users SET quota = 1000000 WHERE id = ${a.userId}`;
    const feed = createPgFeedReads(counted);
    for (let i = 0; i < 12; i++) {
      const id = await chargeAndRecordTaskPg(counted, charge(a, 10 + i), true);
      if (id === 'quota_not_enough') throw new Error('charge refused');
      await feed.fingerprints([id]);
      await settleTaskPg(
        counted,
        {
          done: false,
          withImage: false,
          params: {
            taskId: id,
            mjId: `mj-${i}`,
            code: 1,
            description: 'ok',
            properties: '',
            now: NOW + 20 + i,
            status: '',
            progress: '0%',
            imageUrl: '',
          },
        },
        null,
        true,
      );
      await feed.fingerprints([id]);
    }
    // The counting client holds one connection: these are the plans of the very statements above.
    const plans = await countingClient<Array<{ head: string; custom: number }>>`
      SELECT left(statement, 60) AS head, custom_plans::int AS custom
      FROM pg_prepared_statements WHERE generic_plans + custom_plans >= 12 ORDER BY 1`;
    expect(plans.length).toBeGreaterThanOrEqual(3);
    // The plan cache tries five custom plans before it settles on the generic one.
    expect(plans.filter((p) => p.custom > 5)).toEqual([]);
  });

  test("a submit's own notifications carry their fingerprints: the feed answers them without reading tasks", async () => {
    const a = await account(10_000);
    const reads = createPgFeedReads(counted);
    const heard: Array<Promise<Array<{ id: number; user_id: number; fp: string }>>> = [];
    const stop = await onTaskChanges(counted, (ids) => heard.push(reads.fingerprints(ids)));
    try {
      const taskSent = await statementsOf(async () => {
        const id = await chargeAndRecordTaskPg(pg.db, charge(a, 40), true);
        if (id === 'quota_not_enough') throw new Error('charge refused');
        await waitFor(() => heard.length >= 1, "the charge's notification");
        const afterCharge = await heard[0]!;
        await settleTaskPg(
          pg.db,
          {
            done: false,
            withImage: false,
            params: {
              taskId: id,
              mjId: 'mj-fp',
              code: 1,
              description: 'ok',
              properties: '',
              now: NOW + 41,
              status: 'SUBMITTED',
              progress: '0%',
              imageUrl: '',
            },
          },
          null,
          true,
        );
        await waitFor(() => heard.length >= 2, "the settle's notification");
        const afterSettle = await heard[1]!;
        // Each is the row as its writer left it: what a read after that commit gives.
        const now = await createPgFeedReads(pg.db).fingerprints([id]);
        expect(afterSettle).toEqual(now);
        expect(afterCharge[0]!.id).toBe(id);
        expect(afterCharge[0]!.user_id).toBe(a.userId);
        expect(afterCharge[0]!.fp).not.toBe(now[0]!.fp);
      });
      expect(taskSent.filter((q) => /FROM tasks/.test(q))).toEqual([]);
    } finally {
      await stop();
    }
  });

  // One per kind of write keeps all four listing tables (generated from src/db/listing-design.ts).
  test('one listing trigger per kind of write on tasks, every trigger function in PL/pgSQL, no SQL-language function left', async () => {
    const triggers = await pg.db.$client<Array<{ event: string; n: number; langs: string[] }>>`
      SELECT e.event, count(*)::int AS n, array_agg(DISTINCT l.lanname ORDER BY l.lanname) AS langs
      FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid JOIN pg_language l ON l.oid = p.prolang
      CROSS JOIN LATERAL (VALUES (4, 'insert'), (8, 'delete'), (16, 'update'), (32, 'truncate')) AS e(bit, event)
      WHERE t.tgrelid = 'tasks'::regclass AND NOT t.tgisinternal AND t.tgtype & e.bit <> 0
      GROUP BY e.event ORDER BY e.event`;
    expect([...triggers]).toEqual([
      { event: 'delete', n: 1, langs: ['plpgsql'] },
      { event: 'insert', n: 1, langs: ['plpgsql'] },
      { event: 'truncate', n: 1, langs: ['plpgsql'] },
      { event: 'update', n: 1, langs: ['plpgsql'] },
    ]);
    const sqlFunctions = await pg.db.$client`
      SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_language l ON l.oid = p.prolang
      WHERE n.nspname = 'public' AND l.lanname = 'sql'`;
    expect([...sqlFunctions]).toEqual([]);
  });
});
