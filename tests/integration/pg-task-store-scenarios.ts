import { expect } from 'bun:test';
import type { TaskStore } from '../../src/contract/tasks.ts';
import { readUnfinished } from '../helpers/unfinished.ts';
import {
  type Backend,
  charged,
  chargeOf,
  deliveries,
  type Fx,
  fx,
  makeChannel,
  moneyState,
  NOW,
  PRICE,
  payload,
  row,
  syncFields,
} from './pg-task-store-fixture.ts';

/**
 * The TaskStore scenarios of tests/integration/pg-task-store.test.ts, written once and run on
 * each backend with identical expectations.
 */
export type Scenario = [name: string, run: (b: Backend) => Promise<void>];

export const scenarios: Scenario[] = [
  [
    'charge: 30 concurrent charges from 3 stores against quota for 5 charge exactly 5',
    async (b) => {
      const f = await fx(b, { quota: 5 * PRICE });
      const ids = await Promise.all(
        Array.from({ length: 30 }, (_, i) => b.stores[i % 3]!.money.chargeAndRecord(chargeOf(f, i))),
      );
      expect(ids.filter((id) => id !== 'quota_not_enough').length).toBe(5);
      expect(await moneyState(b, f)).toEqual({
        quota: 0,
        used: 500,
        remain: 0,
        token_used: 500,
        channel_used: 500,
        tasks: 5,
        consumed: 5,
        refunds: 0,
      });
    },
  ],
  [
    'charge: a limited token guards too, and a refused charge writes nothing',
    async (b) => {
      const f = await fx(b, { quota: 10 * PRICE, remain: 2 * PRICE, unlimited: false });
      const ids = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          b.stores[i % 3]!.money.chargeAndRecord(chargeOf(f, i, { unlimited: false })),
        ),
      );
      expect(ids.filter((id) => id !== 'quota_not_enough').length).toBe(2);
      expect(await moneyState(b, f)).toEqual({
        quota: 800,
        used: 200,
        remain: 0,
        token_used: 200,
        channel_used: 200,
        tasks: 2,
        consumed: 2,
        refunds: 0,
      });
      // A free action charges nothing and logs no consume row, but records its task.
      await charged(b.stores[0]!, f, 9, { quota: 0, unlimited: false });
      expect((await moneyState(b, f)).tasks).toBe(3);
    },
  ],
  [
    'settle: compare-and-set on unfinished, consume row named, webhook queued',
    async (b) => {
      const s = b.stores[0]!;
      const f = await fx(b, { quota: 10 * PRICE });
      const id = await charged(s, f, 0, { hookUrl: 'http://127.0.0.1:9/hook' });
      const params = {
        taskId: id,
        mjId: 'mj-settle',
        code: 1,
        description: 'ok',
        properties: '{}',
        now: NOW + 5,
        status: 'SUBMITTED',
        progress: '0%',
        imageUrl: '',
      };
      expect(await s.money.settleAccepted({ done: false, withImage: false, params }, payload)).toBe(true);
      const [log] = await b.all<{ mj_id: string }>('SELECT mj_id FROM logs WHERE task_id = $1 AND type = 2', id);
      expect(log!.mj_id).toBe('mj-settle');
      expect((await deliveries(b, id)).length).toBe(1);
      const t = (await row(b, id))!;
      expect([t.status, t.startTime, t.updatedTime, t.mjId]).toEqual(['SUBMITTED', 0, NOW + 5, 'mj-settle']);
      // Done at once (an upload), with the image: start and finish written.
      const id2 = await charged(s, f, 1);
      expect(
        await s.money.settleAccepted(
          {
            done: true,
            withImage: true,
            params: {
              ...params,
              taskId: id2,
              mjId: 'mj-up',
              status: 'SUCCESS',
              progress: '100%',
              imageUrl: 'http://i/1.png',
            },
          },
          null,
        ),
      ).toBe(true);
      const t2 = (await row(b, id2))!;
      expect([t2.startTime, t2.finishTime, t2.imageUrl]).toEqual([NOW + 5, NOW + 5, 'http://i/1.png']);
      // A finished task is not settled again.
      expect(
        await s.money.settleAccepted({ done: false, withImage: false, params: { ...params, taskId: id2 } }, payload),
      ).toBe(false);
    },
  ],
  [
    'fail-and-refund: 12 racing calls from 3 stores refund exactly once',
    async (b) => {
      const f = await fx(b, { quota: 3 * PRICE, remain: 3 * PRICE, unlimited: false });
      const id = await charged(b.stores[0]!, f, 0, { unlimited: false, hookUrl: 'http://127.0.0.1:9/hook' });
      const rs = await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          b.stores[i % 3]!.money.failAndRefund(
            id,
            PRICE,
            { failReason: `r${i}`, finishTime: NOW + 9, code: 4, mjId: 'mj-rej' },
            NOW + 9,
            'mj_imagine',
            payload,
          ),
        ),
      );
      expect(rs.filter((r) => r.won).length).toBe(1);
      expect(rs.reduce((n, r) => n + r.refunded, 0)).toBe(PRICE);
      expect(await moneyState(b, f)).toEqual({
        quota: 300,
        used: 0,
        remain: 300,
        token_used: 0,
        channel_used: 0,
        tasks: 1,
        consumed: 1,
        refunds: 1,
      });
      const t = (await row(b, id))!;
      expect([t.status, t.progress, t.quota, t.code, t.mjId, t.finishTime]).toEqual([
        'FAILURE',
        '100%',
        0,
        4,
        'mj-rej',
        NOW + 9,
      ]);
      const logs = await b.all<{ type: number; mj_id: string }>(
        'SELECT type, mj_id FROM logs WHERE task_id = $1 ORDER BY id',
        id,
      );
      expect(logs.map((l) => [Number(l.type), l.mj_id])).toEqual([
        [2, 'mj-rej'],
        [6, 'mj-rej'],
      ]);
      expect((await deliveries(b, id)).length).toBe(1);
    },
  ],
  [
    'failover move: task, channel accounting and consume log move; an ended task does not',
    async (b) => {
      const s = b.stores[0]!;
      const f = await fx(b, { quota: 10 * PRICE });
      const c2 = await makeChannel(b);
      const id = await charged(s, f, 0);
      expect(await s.money.moveTaskChannel(id, f.channelId, c2, NOW + 3)).toBe(true);
      const used = async () =>
        (
          await b.all<{ used_quota: number }>(
            'SELECT used_quota FROM channels WHERE id IN ($1, $2) ORDER BY id',
            f.channelId,
            c2,
          )
        ).map((r) => Number(r.used_quota));
      expect(await used()).toEqual([0, PRICE]);
      const t = (await row(b, id))!;
      expect([t.channelId, t.updatedTime]).toEqual([c2, NOW + 3]);
      const [log] = await b.all<{ channel_id: number }>(
        'SELECT channel_id FROM logs WHERE task_id = $1 AND type = 2',
        id,
      );
      expect(Number(log!.channel_id)).toBe(c2);
      // Not on `from` any more: nothing moves.
      expect(await s.money.moveTaskChannel(id, f.channelId, c2, NOW + 4)).toBe(false);
      await s.money.failAndRefund(id, PRICE, { failReason: 'gone' }, NOW + 5, 'mj_imagine');
      expect(await s.money.moveTaskChannel(id, c2, f.channelId, NOW + 6)).toBe(false);
      expect(await used()).toEqual([0, 0]);
    },
  ],
  [
    'sync batch: updates, a failure with refund, a timeout, webhooks for hooked tasks; finished rows untouched',
    async (b) => {
      const s = b.stores[0]!;
      const f = await fx(b, { quota: 10 * PRICE });
      const hook = 'http://127.0.0.1:9/hook';
      const [a, done, failed, timedOut, ended] = [
        await charged(s, f, 0, { hookUrl: hook }),
        await charged(s, f, 1),
        await charged(s, f, 2, { hookUrl: hook }),
        await charged(s, f, 3, { hookUrl: hook }),
        await charged(s, f, 4, { hookUrl: hook }),
      ];
      await s.money.failAndRefund(ended, PRICE, { failReason: 'earlier' }, NOW + 5, 'mj_imagine');
      const mine = (rows: Array<{ id: number }>) =>
        rows.map((t) => t.id).filter((id) => [a, done, failed, timedOut, ended].includes(id));
      expect(mine(await readUnfinished(s.sync))).toEqual([a, done, failed, timedOut]);
      const results = await b.stores[1]!.sync.apply(
        [
          { kind: 'update', taskId: a, fields: syncFields({}) },
          {
            kind: 'update',
            taskId: done,
            fields: syncFields({
              progress: '100%',
              status: 'SUCCESS',
              finishTime: NOW + 20,
              imageUrl: 'http://i/2.png',
            }),
          },
          {
            kind: 'fail',
            taskId: failed,
            expectedQuota: PRICE,
            modelName: 'mj_imagine',
            fields: { ...syncFields({ progress: '100%', status: 'FAILURE', failReason: 'banned' }) },
          },
          {
            kind: 'fail',
            taskId: timedOut,
            expectedQuota: PRICE,
            modelName: 'mj_imagine',
            fields: { failReason: 'timeout: no result within 1 ms', finishTime: NOW + 20 },
          },
          { kind: 'update', taskId: ended, fields: syncFields({}) },
          {
            kind: 'fail',
            taskId: ended,
            expectedQuota: PRICE,
            modelName: 'mj_imagine',
            fields: { failReason: 'again' },
          },
        ],
        NOW + 20,
        payload,
      );
      expect(results).toEqual([
        { won: true, refunded: 0 },
        { won: true, refunded: 0 },
        { won: true, refunded: PRICE },
        { won: true, refunded: PRICE },
        { won: false, refunded: 0 },
        { won: false, refunded: 0 },
      ]);
      expect(mine(await readUnfinished(s.sync))).toEqual([a]);
      const rows = await Promise.all([a, done, failed, timedOut, ended].map((id) => row(b, id)));
      expect(rows.map((t) => [t!.status, t!.progress, t!.quota, t!.failReason])).toEqual([
        ['IN_PROGRESS', '50%', PRICE, ''],
        ['SUCCESS', '100%', PRICE, ''],
        ['FAILURE', '100%', 0, 'banned'],
        ['FAILURE', '100%', 0, 'timeout: no result within 1 ms'],
        ['FAILURE', '100%', 0, 'earlier'],
      ]);
      expect(await moneyState(b, f)).toEqual({
        quota: 800,
        used: 200,
        remain: 0,
        token_used: 200,
        channel_used: 200,
        tasks: 5,
        consumed: 5,
        refunds: 3,
      });
      // One delivery per hooked row written (`done` has no hook, `ended` was not written), payload as written.
      const counts = await Promise.all(
        [a, done, failed, timedOut, ended].map(async (id) => (await deliveries(b, id)).length),
      );
      expect(counts).toEqual([1, 0, 1, 1, 0]);
      expect(JSON.parse((await deliveries(b, failed))[0]!.payload)).toEqual({
        id: failed,
        status: 'FAILURE',
        progress: '100%',
        failReason: 'banned',
      });
    },
  ],
  [
    'outbox worker: due in per-task order, claim once, delivered / retried / failed / refused by compare-and-set',
    async (b) => {
      const s = b.stores[0]!;
      const f = await fx(b, { quota: 10 * PRICE, secret: 'whsec' });
      const hook = 'http://127.0.0.1:9/hook';
      const E = NOW - 1e6; // before every other scenario's deliveries, so `due` sees only these
      const x = await charged(s, f, 0, { hookUrl: hook });
      const y = await charged(s, f, 1, { hookUrl: hook });
      // Two changes of x, one of y.
      await s.sync.apply(
        [
          { kind: 'update', taskId: x, fields: syncFields({}) },
          { kind: 'update', taskId: y, fields: syncFields({}) },
        ],
        E + 10,
        payload,
      );
      await s.sync.apply([{ kind: 'update', taskId: x, fields: syncFields({ progress: '70%' }) }], E + 11, payload);
      const due = await s.outbox.due(E + 100, 10);
      expect(due.map((d) => d.taskId)).toEqual([x, y]);
      expect(await s.outbox.secret(f.tokenId)).toEqual({ secret: 'whsec', previous: null, rotatedAt: null });
      expect(await s.outbox.secret(999_999)).toEqual({ missing: 'API key 999999 no longer exists' });
      const claims = await Promise.all(b.stores.map((st) => st.outbox.claim(due[0]!, E + 100)));
      expect(claims.filter(Boolean).length).toBe(1);
      expect((await s.outbox.due(E + 100, 10)).map((d) => d.taskId)).toEqual([y]);
      // The claimed row as read, with its pushed next attempt: delivered once, the second mark loses.
      const [claimed] = await b.all<{ id: number }>(
        'SELECT id FROM webhook_deliveries WHERE task_id = $1 ORDER BY id LIMIT 1',
        x,
      );
      const firstX = due[0]!;
      expect(claimed!.id).toBe(firstX.id);
      expect(await s.outbox.markDelivered(firstX, E + 101)).toBe(true);
      expect(await b.stores[1]!.outbox.markDelivered(firstX, E + 101)).toBe(false);
      // x's second change is next; a failed attempt retries at the time given, then fails for good.
      // Now x's second change is due too, after y's (id order).
      const dueNext = await s.outbox.due(E + 200, 10);
      expect(dueNext.map((d) => d.taskId)).toEqual([y, x]);
      const second = dueNext[1];
      await s.outbox.markAttemptFailed(second!, 'HTTP 500', E + 5000);
      expect((await s.outbox.due(E + 4999, 10)).map((d) => d.taskId)).toEqual([y]);
      const [again] = (await s.outbox.due(E + 5000, 10)).filter((d) => d.taskId === x);
      expect(again!.attempts).toBe(1);
      await s.outbox.markAttemptFailed(again!, 'HTTP 500', null);
      await s.outbox.markRefused((await s.outbox.due(E + 5000, 10))[0]!, 'refused URL');
      expect((await deliveries(b, x)).map((d) => [d.status, Number(d.attempts)])).toEqual([
        ['delivered', 1],
        ['failed', 2],
      ]);
      expect((await deliveries(b, y)).map((d) => [d.status, Number(d.attempts)])).toEqual([['failed', 0]]);
      expect((await s.outbox.due(NOW + 1e9, 100)).filter((d) => d.taskId === x || d.taskId === y)).toEqual([]);
    },
  ],
  [
    'lease: one of 9 racers wins; the holder renews; another takes it after expiry; release frees it',
    async (b) => {
      const wins = await Promise.all(
        Array.from({ length: 9 }, (_, i) => b.stores[i % 3]!.lease.tryAcquire('poller', `h${i}`, NOW, 1000)),
      );
      expect(wins.filter(Boolean).length).toBe(1);
      const holder = `h${wins.indexOf(true)}`;
      const other = holder === 'h0' ? 'h1' : 'h0';
      expect(await b.stores[1]!.lease.tryAcquire('poller', other, NOW + 500, 1000)).toBe(false);
      expect(await b.stores[2]!.lease.tryAcquire('poller', holder, NOW + 500, 1000)).toBe(true);
      expect(await b.stores[1]!.lease.tryAcquire('poller', other, NOW + 1400, 1000)).toBe(false);
      expect(await b.stores[1]!.lease.tryAcquire('poller', other, NOW + 1501, 1000)).toBe(true);
      await b.stores[0]!.lease.release('poller', holder);
      expect(await b.stores[0]!.lease.tryAcquire('poller', holder, NOW + 1600, 1000)).toBe(false);
      await b.stores[0]!.lease.release('poller', other);
      expect(await b.stores[0]!.lease.tryAcquire('poller', holder, NOW + 1600, 1000)).toBe(true);
    },
  ],
  [
    'rate limit: 3 of 7 racing takes in a window; Retry-After to the window end; the next window opens',
    async (b) => {
      const f = await fx(b, { quota: 0 });
      const at = 1_712_016_030_000; // 30 s into a minute
      const rs = await Promise.all(
        Array.from({ length: 7 }, (_, i) => b.stores[i % 3]!.rateLimit.take(f.tokenId, 3, at)),
      );
      expect(rs.filter((r) => r.allowed).length).toBe(3);
      expect(rs.find((r) => !r.allowed)).toEqual({ allowed: false, retryAfterSeconds: 30 });
      expect(await b.stores[0]!.rateLimit.take(f.tokenId, 3, at + 30_000)).toEqual({ allowed: true });
      expect(await b.stores[0]!.rateLimit.take(f.tokenId, 0, at)).toEqual({ allowed: true });
    },
  ],
  [
    'task reads: by mj_id (own / any), own by mj_ids oldest first with long text cut, the image read',
    async (b) => {
      const s = b.stores[0]!;
      const f = await fx(b, { quota: 10 * PRICE });
      const g = await fx(b, { quota: 10 * PRICE });
      const p = {
        code: 1,
        description: '',
        properties: '',
        now: NOW + 1,
        status: 'SUCCESS',
        progress: '100%',
        imageUrl: 'http://i/r.png',
      };
      const ids = [await charged(s, f, 0), await charged(s, g, 1), await charged(s, f, 2)];
      for (const [i, id] of ids.entries()) {
        await s.money.settleAccepted(
          { done: true, withImage: true, params: { ...p, taskId: id, mjId: i === 1 ? 'mj-b' : 'mj-a' } },
          null,
        );
      }
      await b.all('UPDATE tasks SET prompt = $1 WHERE id = $2', 'x'.repeat(9000), ids[0]);
      expect((await s.tasks.findByMjId('mj-a', f.userId))!.id).toBe(ids[2]!);
      expect(await s.tasks.findByMjId('mj-b', f.userId)).toBeNull();
      expect((await s.tasks.findByMjId('mj-b', null))!.id).toBe(ids[1]!);
      const own = await s.tasks.ownByMjIds(f.userId, ['mj-a', 'mj-b', 'nope']);
      expect(own.map((t) => [t.id, t.prompt.length])).toEqual([
        [ids[0]!, 8193],
        [ids[2]!, 2],
      ]);
      expect(await s.tasks.ownByMjIds(f.userId, [])).toEqual([]);
      expect(await s.tasks.imageTask('mj-a')).toEqual({ status: 'SUCCESS', imageUrl: 'http://i/r.png' });
      expect(await s.tasks.imageTask('nope')).toBeNull();
      expect((await s.tasks.byId(ids[0]!))!.prompt.length).toBe(9000);
      expect(await s.tasks.byId(999_999)).toBeNull();
    },
  ],
];

/**
 * Every money path at once across the three stores: two sync batches ending tasks of four users in
 * reverse order, single refunds racing them on the same tasks, failover moves both ways between
 * two shared channels, and new charges on the same users and channels. On PostgreSQL a lock-order
 * cycle would abort a transaction as a deadlock (the promise rejects); afterwards every counter
 * equals the sum of its tasks' quotas and no task is refunded twice.
 */
export const raceScenario: Scenario = [
  'mixed race: batches, single refunds, moves and charges on shared rows end consistent',
  async (b) => {
    const users = await Promise.all(
      [0, 1, 2, 3].map(() => fx(b, { quota: 20 * PRICE, remain: 20 * PRICE, unlimited: false })),
    );
    const [c1, c2] = [users[0]!.channelId, users[1]!.channelId];
    const on = (f: Fx, i: number): Fx => ({ ...f, channelId: i % 2 === 0 ? c1 : c2 });
    const tasks: number[] = [];
    for (let i = 0; i < 24; i++) tasks.push(await charged(b.stores[0]!, on(users[i % 4]!, i), i, { unlimited: false }));
    const failOp = (id: number) => ({
      kind: 'fail' as const,
      taskId: id,
      expectedQuota: PRICE,
      modelName: 'mj_imagine',
      fields: { failReason: 'batch' },
    });
    const batch1 = tasks.slice(0, 12).reverse().map(failOp);
    const batch2 = tasks.slice(12, 18).map(failOp);
    const work: Array<Promise<unknown>> = [
      b.stores[1]!.sync.apply(batch1, NOW + 30, payload),
      b.stores[2]!.sync.apply(batch2, NOW + 30, payload),
      ...tasks
        .slice(0, 6)
        .map((id, i) =>
          b.stores[i % 3]!.money.failAndRefund(id, PRICE, { failReason: 'single' }, NOW + 30, 'mj_imagine'),
        ),
      ...tasks
        .slice(18)
        .map((id, i) =>
          b.stores[i % 3]!.money.moveTaskChannel(id, i % 2 === 0 ? c1 : c2, i % 2 === 0 ? c2 : c1, NOW + 30),
        ),
      ...Array.from({ length: 24 }, (_, i) =>
        b.stores[(i + 1) % 3]!.money.chargeAndRecord(chargeOf(on(users[i % 4]!, i + 1), 100 + i, { unlimited: false })),
      ),
    ];
    await Promise.all(work);
    const refundsPerTask = await b.all<{ n: number }>(
      'SELECT count(*) AS n FROM logs WHERE type = 6 AND task_id IN (SELECT id FROM tasks WHERE user_id IN ($1, $2, $3, $4)) GROUP BY task_id',
      ...users.map((u) => u.userId),
    );
    expect(refundsPerTask.length).toBe(18);
    expect(refundsPerTask.every((r) => Number(r.n) === 1)).toBe(true);
    const mismatched = await b.all<{ id: number }>(
      `SELECT id FROM channels c WHERE id IN ($1, $2) AND used_quota <> (SELECT coalesce(sum(quota), 0) FROM tasks WHERE channel_id = c.id)
    UNION ALL SELECT id FROM users u WHERE id IN ($3, $4, $5, $6) AND used_quota <> (SELECT coalesce(sum(quota), 0) FROM tasks WHERE user_id = u.id)
    UNION ALL SELECT id FROM tokens k WHERE id IN ($7, $8, $9, $10) AND used_quota + remain_quota <> 20 * ${PRICE}`,
      c1,
      c2,
      ...users.map((u) => u.userId),
      ...users.map((u) => u.tokenId),
    );
    expect(mismatched).toEqual([]);
    expect(
      (
        await b.all<{ n: number }>(
          'SELECT count(*) AS n FROM tasks WHERE user_id IN ($1, $2, $3, $4)',
          ...users.map((u) => u.userId),
        )
      )[0]!.n,
    ).toBe(48);
  },
];

/** Listings compared as id lists and totals (ids are equal on both: each database starts empty). */
export const listingScenario: Scenario = [
  'listing: a few shapes give the same pages and totals, and listJson renders them',
  async (b) => {
    const s = b.stores[0]!;
    const f = await fx(b, { quota: 100 * PRICE });
    const g = await fx(b, { quota: 100 * PRICE });
    const HOUR = 3_600_000;
    const ids: number[] = [];
    for (let i = 0; i < 30; i++)
      ids.push(
        await charged(s, i % 3 === 0 ? g : f, 0, {}).then(async (id) => {
          await b.all(
            'UPDATE tasks SET submit_time = $1, mj_id = $2 WHERE id = $3',
            NOW + (i * HOUR) / 2,
            `mj${i % 4}`,
            id,
          );
          return id;
        }),
      );
    const shape = async (
      filter: Parameters<TaskStore['tasks']['list']>[0],
      paging: { p?: number; page_size?: number },
    ) => {
      const page = await s.tasks.list(filter, paging);
      return {
        ids: page.items.map((t) => ids.indexOf(t.id)),
        total: page.total,
        page: page.page,
        size: page.page_size,
      };
    };
    expect(await shape({}, { p: 1, page_size: 5 })).toEqual({ ids: [29, 28, 27, 26, 25], total: 30, page: 1, size: 5 });
    expect(await shape({ userId: g.userId }, { p: 2, page_size: 4 })).toEqual({
      ids: [15, 12, 9, 6],
      total: 10,
      page: 2,
      size: 4,
    });
    expect(await shape({ channelId: f.channelId }, { p: 1, page_size: 3 })).toEqual({
      ids: [29, 28, 26],
      total: 20,
      page: 1,
      size: 3,
    });
    expect(await shape({ start: NOW + 2 * HOUR, end: NOW + 5 * HOUR }, { p: 1, page_size: 20 })).toEqual({
      ids: [10, 9, 8, 7, 6, 5, 4],
      total: 7,
      page: 1,
      size: 20,
    });
    expect(await shape({ userId: f.userId, mjId: 'mj1' }, { p: 1 })).toEqual({
      ids: [29, 25, 17, 13, 5, 1],
      total: 6,
      page: 1,
      size: 20,
    });
    expect(await shape({ userId: f.userId }, { p: 9, page_size: 10 })).toEqual({
      ids: [],
      total: 20,
      page: 9,
      size: 10,
    });
    const json = JSON.parse(
      await s.tasks.listJson(
        { userId: g.userId },
        { p: 1, page_size: 2 },
        { admin: false, policy: { forward: false, serverAddress: '' } },
      ),
    );
    expect([json.success, json.data.total, json.data.items.length]).toEqual([true, 10, 2]);
  },
];

export const feedScenario: Scenario = [
  'feed reads: fingerprints move with a change; row; replay newest change first within its window',
  async (b) => {
    const s = b.stores[0]!;
    const f = await fx(b, { quota: 10 * PRICE });
    const g = await fx(b, { quota: 10 * PRICE });
    const T = NOW + 1e9; // its own time range: other scenarios' tasks stay out of the replays
    const [x, y, z] = [
      await charged(s, f, 0, { base: T }),
      await charged(s, f, 1, { base: T }),
      await charged(s, g, 2, { base: T }),
    ];
    const before = await b.feed.fingerprints([x, y, z]);
    expect(before.map((r) => [r.id, r.user_id, r.fp])).toEqual([
      [x, f.userId, `${T}||0%||100|0|0|0`],
      [y, f.userId, `${T + 1}||0%||100|0|0|0`],
      [z, g.userId, `${T + 2}||0%||100|0|0|0`],
    ]);
    await s.sync.apply(
      [{ kind: 'update', taskId: y, fields: syncFields({ imageUrl: 'http://i/3.png' }) }],
      T + 50,
      payload,
    );
    expect((await b.feed.fingerprints([y]))[0]!.fp).toBe(`${T + 50}|IN_PROGRESS|50%||100|14|0|0`);
    expect((await b.feed.row(y))!.imageUrl).toBe('http://i/3.png');
    expect(await b.feed.row(999_999)).toBeNull();
    expect((await b.feed.replay(null, T, T + 1, 10)).map((t) => t.id)).toEqual([y, z]);
    expect((await b.feed.replay(f.userId, T, T, 10)).map((t) => t.id)).toEqual([y, x]);
    expect((await b.feed.replay(f.userId, T + 1, T, 1)).map((t) => t.id)).toEqual([y]);
  },
];
