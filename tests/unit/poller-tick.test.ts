import { beforeEach, describe, expect, test } from 'bun:test';
import { and, eq } from 'drizzle-orm';
import { LOG_TYPE } from '../../src/contract/constants.ts';
import type { DB } from '../../src/db/client.ts';
import { channels, logs } from '../../src/db/schema/index.ts';
import { createSqliteStore } from '../../src/db/sqlite/store.ts';
import { createSqliteSyncStore, UNFINISHED_CHANNELS_SQL, UNFINISHED_PAGE_SQL } from '../../src/db/sqlite/sync.ts';
import { AppError, DATABASE_UNAVAILABLE } from '../../src/domain/errors.ts';
import { applyPollBatch } from '../../src/domain/task-sync.ts';
import { createPoller, type PollerDeps } from '../../src/jobs/poller.ts';
import { ManualClock } from '../../src/lib/clock.ts';
import { createLogger } from '../../src/lib/logger.ts';
import { memoryDb } from '../helpers/db.ts';
import { createTestChannel, createTestUser, getTask, getUserQuota, insertTask } from '../helpers/factories.ts';
import { waitFor } from '../helpers/server.ts';
import { readUnfinished } from '../helpers/unfinished.ts';

/**
 * The poller's tick without sockets: the upstream is a `fetch` function passed in through the
 * deps (as production passes the real one), the database is real (in-memory, real migrations).
 */

const T0 = 1_790_000_000_000;
type Answer = (ids: string[], url: string) => Response | Promise<Response>;

let db: DB;
let clock: ManualClock;
let lines: Array<Record<string, unknown>>;
let calls: Array<{ url: string; ids: string[]; secret: string | null }>;
let answer: Answer;
let userId: number;
let channelId: number;

function deps(over: Partial<PollerDeps['config']> = {}): PollerDeps {
  const fakeFetch = (async (url: string, init: RequestInit) => {
    const ids = (JSON.parse(String(init.body)) as { ids: string[] }).ids;
    calls.push({ url, ids, secret: (init.headers as Record<string, string>)['mj-api-secret'] ?? null });
    return answer(ids, url);
  }) as unknown as typeof fetch;
  return {
    store: createSqliteStore(db),
    taskStore: { sync: createSqliteSyncStore(db) },
    clock,
    fetch: fakeFetch,
    logger: createLogger('debug', {}, (l) => lines.push(JSON.parse(l) as Record<string, unknown>)),
    config: { pollIntervalMs: 1000, pollBatchSize: 100, taskTimeoutMs: 3_600_000, upstreamTimeoutMs: 60_000, ...over },
  };
}

function upstreamTask(id: string, over: Record<string, unknown> = {}) {
  return {
    id,
    status: 'IN_PROGRESS',
    progress: '46%',
    submitTime: T0,
    startTime: T0 + 1000,
    finishTime: null,
    imageUrl: null,
    failReason: null,
    ...over,
  };
}

function refundLogs(): number {
  return db
    .select()
    .from(logs)
    .where(and(eq(logs.userId, userId), eq(logs.type, LOG_TYPE.refund)))
    .all().length;
}

beforeEach(() => {
  db = memoryDb();
  clock = new ManualClock(T0);
  lines = [];
  calls = [];
  answer = (ids) => Response.json(ids.map((id) => upstreamTask(id)));
  userId = createTestUser(db, { quota: 1000 }).id;
  channelId = createTestChannel(db, 'http://up.test', { key: 'chan-key' });
});

test('unfinished tasks are read through the partial index', async () => {
  // The statements the poller runs, as SQLite plans them: the partial index, and no sort step.
  const planOf = (q: string, ...params: number[]) =>
    (db.$client.query(`EXPLAIN QUERY PLAN ${q}`).all(...params) as Array<{ detail: string }>)
      .map((r) => r.detail)
      .join(' | ');
  for (const details of [planOf(UNFINISHED_CHANNELS_SQL), planOf(UNFINISHED_PAGE_SQL, 1, 0, 100)]) {
    expect(details).toContain('tasks_unfinished_idx');
    expect(details).not.toContain('TEMP B-TREE');
    expect(details).not.toMatch(/SCAN tasks(?! USING (COVERING )?INDEX tasks_unfinished_idx)/);
  }
  // A page is one range of that index: the channel and the id bound are both searched.
  expect(planOf(UNFINISHED_PAGE_SQL, 1, 0, 100)).toContain(
    'SEARCH tasks USING INDEX tasks_unfinished_idx (channel_id=? AND id>?)',
  );
  insertTask(db, { userId, channelId, progress: '100%', status: 'SUCCESS' });
  const open = insertTask(db, { userId, channelId, progress: '15%' });
  expect((await readUnfinished(createSqliteSyncStore(db))).map((r) => r.id)).toEqual([open.id]);
});

describe('tick', () => {
  test('polls each channel in batches with its key and writes changes', async () => {
    const tasks = Array.from({ length: 5 }, () => insertTask(db, { userId, channelId, submitTime: T0 }));
    const report = await createPoller(deps({ pollBatchSize: 2 })).runOnce();
    expect(calls.map((c) => c.ids.length)).toEqual([2, 2, 1]);
    expect(calls.flatMap((c) => c.ids)).toEqual(tasks.map((t) => t.mjId));
    expect(calls.every((c) => c.url === 'http://up.test/mj/task/list-by-condition' && c.secret === 'chan-key')).toBe(
      true,
    );
    expect(report).toMatchObject({ unfinished: 5, updated: 5, failed: 0 });
    expect(getTask(db, tasks[0]!.id)).toMatchObject({
      status: 'IN_PROGRESS',
      progress: '46%',
      startTime: T0 + 1000,
      submitTime: T0,
      updatedTime: T0,
    });
    // Same answer again: nothing to write.
    expect((await createPoller(deps()).runOnce()).updated).toBe(0);
  });

  test('unknown ids and malformed items are skipped and logged with the channel id', async () => {
    const t = insertTask(db, { userId, channelId });
    answer = (ids) =>
      Response.json([
        { id: 'nope', status: 'SUCCESS' },
        { status: 'SUCCESS' },
        'x',
        upstreamTask(ids[0]!, { progress: '62%' }),
      ]);
    const report = await createPoller(deps()).runOnce();
    expect(report).toMatchObject({ unknown: 1, invalid: 2, updated: 1 });
    expect(getTask(db, t.id)?.progress).toBe('62%');
    expect(
      lines.some((l) => l.level === 'warn' && l.channelId === channelId && l.unknown === 1 && l.invalid === 2),
    ).toBe(true);
  });

  for (const [name, make] of [
    ['non-200', () => new Response('oops', { status: 502 })],
    ['not JSON', () => new Response('<html>', { status: 200 })],
    ['not an array', () => Response.json({ code: 1 })],
  ] as const) {
    test(`an upstream answer that is ${name} changes nothing and is logged with the channel id`, async () => {
      const t = insertTask(db, { userId, channelId });
      answer = make;
      const report = await createPoller(deps()).runOnce();
      expect(report.channelErrors).toBe(1);
      expect(getTask(db, t.id)).toMatchObject({ progress: '0%', status: '' });
      expect(lines.some((l) => l.level === 'warn' && l.channelId === channelId)).toBe(true);
    });
  }

  test('a channel that cannot be reached is not asked again in the same tick, but its timeouts still apply', async () => {
    for (let i = 0; i < 3; i++) insertTask(db, { userId, channelId, submitTime: T0, quota: 100 });
    answer = () => {
      throw new TypeError('connection refused');
    };
    clock.advance(3_600_000);
    const report = await createPoller(deps({ pollBatchSize: 1 })).runOnce();
    expect(calls.length).toBe(1);
    expect(report).toMatchObject({ failed: 3, timedOut: 3, refunded: 3 });
    expect(getUserQuota(db, userId)).toBe(1300);
  });

  test('timeout: refunded with the configured minutes, even when the upstream still reports progress', async () => {
    const t = insertTask(db, { userId, channelId, submitTime: T0, quota: 100 });
    clock.advance(30_000);
    await createPoller(deps({ taskTimeoutMs: 30_000 })).runOnce();
    expect(getTask(db, t.id)).toMatchObject({
      status: 'FAILURE',
      progress: '100%',
      failReason: 'upstream task timed out after 0.5 minutes',
      quota: 0,
      finishTime: T0 + 30_000,
    });
    expect(getUserQuota(db, userId)).toBe(1100);
    expect(refundLogs()).toBe(1);
  });

  test('a task that succeeds at the deadline is not timed out', async () => {
    const t = insertTask(db, { userId, channelId, submitTime: T0, quota: 100 });
    answer = (ids) =>
      Response.json([upstreamTask(ids[0]!, { status: 'SUCCESS', progress: '100%', finishTime: T0 + 29_000 })]);
    clock.advance(31_000);
    await createPoller(deps({ taskTimeoutMs: 30_000 })).runOnce();
    expect(getTask(db, t.id)).toMatchObject({ status: 'SUCCESS', progress: '100%', quota: 100 });
  });

  test('empty mj_id: left alone while the submit may be in flight, then failed and refunded what it holds', async () => {
    const charged = insertTask(db, { userId, channelId, mjId: '', submitTime: T0, quota: 100 });
    const free = insertTask(db, { userId, channelId, mjId: '', submitTime: T0, quota: 0 });
    const poller = createPoller(deps({ upstreamTimeoutMs: 60_000 }));
    clock.advance(89_999);
    await poller.runOnce();
    expect(getTask(db, charged.id)?.progress).toBe('0%');
    clock.advance(1);
    await poller.runOnce();
    expect(calls.length).toBe(0);
    expect(getTask(db, charged.id)).toMatchObject({
      status: 'FAILURE',
      progress: '100%',
      failReason: 'submit did not complete',
      quota: 0,
    });
    expect(getTask(db, free.id)).toMatchObject({ status: 'FAILURE', progress: '100%', quota: 0 });
    expect(getUserQuota(db, userId)).toBe(1100);
    expect(refundLogs()).toBe(1);
  });

  test('a deleted channel: failed with its id and refunded, without an upstream call', async () => {
    const gone = createTestChannel(db, 'http://gone.test');
    const t = insertTask(db, { userId, channelId: gone, quota: 250 });
    db.delete(channels).where(eq(channels.id, gone)).run();
    await createPoller(deps()).runOnce();
    expect(calls.length).toBe(0);
    expect(getTask(db, t.id)).toMatchObject({
      status: 'FAILURE',
      progress: '100%',
      failReason: `channel ${gone} no longer exists`,
      quota: 0,
    });
    expect(getUserQuota(db, userId)).toBe(1250);
  });

  test('the same batch applied twice (a retry, or a crash after the first commit) refunds once', async () => {
    const rows = [insertTask(db, { userId, channelId, quota: 100 }), insertTask(db, { userId, channelId, quota: 100 })];
    const snapshot = await readUnfinished(createSqliteSyncStore(db));
    const items = rows.map((r) => upstreamTask(r.mjId, { status: 'FAILURE', progress: '', failReason: 'boom' }));
    const first = await applyPollBatch(createSqliteSyncStore(db), snapshot, items, T0, {
      taskTimeoutMs: 3_600_000,
      upstreamTimeoutMs: 60_000,
    });
    const second = await applyPollBatch(createSqliteSyncStore(db), snapshot, items, T0, {
      taskTimeoutMs: 3_600_000,
      upstreamTimeoutMs: 60_000,
    });
    expect(first).toMatchObject({ failed: 2, refunded: 2 });
    expect(second).toMatchObject({ failed: 0, refunded: 0, updated: 0 });
    expect(getUserQuota(db, userId)).toBe(1200);
    expect(refundLogs()).toBe(2);
  });

  test('a stale snapshot never writes over a task another poller finished', async () => {
    const t = insertTask(db, { userId, channelId, quota: 100 });
    const snapshot = await readUnfinished(createSqliteSyncStore(db));
    await applyPollBatch(
      createSqliteSyncStore(db),
      snapshot,
      [upstreamTask(t.mjId, { status: 'SUCCESS', progress: '100%' })],
      T0,
      { taskTimeoutMs: 3_600_000, upstreamTimeoutMs: 60_000 },
    );
    const late = await applyPollBatch(
      createSqliteSyncStore(db),
      snapshot,
      [upstreamTask(t.mjId, { progress: '31%' })],
      T0,
      { taskTimeoutMs: 3_600_000, upstreamTimeoutMs: 60_000 },
    );
    expect(late.updated).toBe(0);
    expect(getTask(db, t.id)).toMatchObject({ status: 'SUCCESS', progress: '100%' });
  });

  test('an update writes only the fields the answer moved: a column another writer changed meanwhile is kept', async () => {
    const t = insertTask(db, { userId, channelId, progress: '10%', status: 'IN_PROGRESS', promptEn: 'old prompt' });
    const snapshot = await readUnfinished(createSqliteSyncStore(db));
    // Another writer changes prompt_en after the page was read; the answer moves only the progress.
    db.$client.run('UPDATE tasks SET prompt_en = ? WHERE id = ?', ['written meanwhile', t.id]);
    const counts = await applyPollBatch(
      createSqliteSyncStore(db),
      snapshot,
      [upstreamTask(t.mjId, { progress: '55%', startTime: null })],
      T0 + 5,
      { taskTimeoutMs: 3_600_000, upstreamTimeoutMs: 60_000 },
    );
    expect(counts).toMatchObject({ updated: 1, changed: [t.id] });
    expect(getTask(db, t.id)).toMatchObject({
      progress: '55%',
      status: 'IN_PROGRESS',
      promptEn: 'written meanwhile',
      startTime: 0,
      updatedTime: T0 + 5,
    });
    // Every field the answer does move is written, however many at once.
    const again = await readUnfinished(createSqliteSyncStore(db));
    await applyPollBatch(
      createSqliteSyncStore(db),
      again,
      [
        upstreamTask(t.mjId, {
          status: 'SUCCESS',
          progress: '100%',
          promptEn: 'final',
          imageUrl: 'https://cdn.test/a.png',
          properties: { finalPrompt: 'final' },
          finishTime: T0 + 9,
        }),
      ],
      T0 + 10,
      { taskTimeoutMs: 3_600_000, upstreamTimeoutMs: 60_000 },
    );
    expect(getTask(db, t.id)).toMatchObject({
      status: 'SUCCESS',
      progress: '100%',
      promptEn: 'final',
      imageUrl: 'https://cdn.test/a.png',
      finishTime: T0 + 9,
      updatedTime: T0 + 10,
      properties: JSON.stringify({ finalPrompt: 'final' }),
    });
  });

  test('start() ticks at once and then every interval, one tick at a time, until stop()', async () => {
    insertTask(db, { userId, channelId });
    let open = 0;
    let overlapped = false;
    const d = deps();
    const inner = d.fetch;
    d.fetch = (async (url: string, init: RequestInit) => {
      if (++open > 1) overlapped = true;
      try {
        await Bun.sleep(15); // a slow upstream, slower than the interval: ticks must not pile up
        return await inner(url, init);
      } finally {
        open--;
      }
    }) as unknown as typeof fetch;
    const poller = createPoller(d, { intervalMs: 5 });
    poller.start();
    poller.start();
    await waitFor(() => calls.length >= 3, 'three ticks');
    await poller.stop();
    expect(open).toBe(0); // stop() returned after the running tick, not before
    expect(overlapped).toBe(false);
  });

  test('stop() cancels the calls in flight and waits for the tick', async () => {
    insertTask(db, { userId, channelId });
    let started!: () => void;
    const inFlight = new Promise<void>((r) => (started = r));
    const d = deps();
    d.fetch = ((_url: string, init: RequestInit) => {
      started();
      return new Promise((_, reject) =>
        init.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError'))),
      );
    }) as unknown as typeof fetch;
    const poller = createPoller(d);
    poller.start();
    await inFlight;
    await poller.stop();
    expect(lines.some((l) => l.msg === 'poll tick failed')).toBe(false);
  });

  test('a tick during a database outage is one warn line, not an error', async () => {
    const d = deps();
    const unavailable = () => Promise.reject(new AppError('DATABASE', DATABASE_UNAVAILABLE, 'database_unavailable'));
    d.taskStore = { sync: { unfinishedChannels: unavailable, unfinishedPage: unavailable, apply: unavailable } };
    await createPoller(d).runOnce();
    expect(lines.filter((l) => l.level === 'error')).toEqual([]);
    expect(lines.some((l) => l.level === 'warn' && l.msg === 'poll tick failed: database unavailable')).toBe(true);
  });
});
