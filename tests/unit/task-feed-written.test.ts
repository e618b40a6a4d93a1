import { describe, expect, test } from 'bun:test';
import { eq } from 'drizzle-orm';
import type { TaskRow } from '../../src/contract/rows.ts';
import { tasks } from '../../src/db/schema/index.ts';
import { createSqliteFeedReads } from '../../src/db/sqlite/feed-reads.ts';
import { InProcessTaskFeed, type TaskFeedEvent, type TaskFeedReads } from '../../src/domain/task-feed.ts';
import { ManualClock } from '../../src/lib/clock.ts';
import { memoryDb } from '../helpers/db.ts';
import { createTestUser, insertTask } from '../helpers/factories.ts';

/**
 * `publishWritten`: what a writer knows it changed (the poller's won writes) is recorded without a
 * fingerprint read per task, each task an event for its owner with the row as the database holds
 * it; a later `publish` of the same task is not compared with a fingerprint from before that write.
 */

async function events(feed: InProcessTaskFeed, userId: number | null, n: number, ac: AbortController) {
  const out: TaskFeedEvent[] = [];
  for await (const e of feed.subscribe({ userId }, null, ac.signal, null)) {
    if (!('row' in e) || !e.row) throw new Error('no replay was asked for, so no reload is expected');
    out.push(e);
    if (out.length === n) break;
  }
  return out;
}

function setup() {
  const db = memoryDb();
  const clock = new ManualClock(1_800_000_000_000);
  const real = createSqliteFeedReads(db);
  const counted = { fingerprints: 0 };
  const reads: TaskFeedReads = {
    ...real,
    fingerprints: (ids) => {
      counted.fingerprints += ids.length;
      return real.fingerprints(ids);
    },
  };
  const feed = new InProcessTaskFeed(reads, clock, { changeWindowMs: 3_600_000 });
  const write = (id: number, progress: string) => {
    clock.advance(10);
    db.update(tasks).set({ progress, updatedTime: clock.now() }).where(eq(tasks.id, id)).run();
  };
  return { db, clock, feed, counted, write };
}

describe('InProcessTaskFeed.publishWritten', () => {
  test('each written task is an event for its owner, with the row as written, and nothing is read back', async () => {
    const { db, clock, feed, counted, write } = setup();
    const user = createTestUser(db);
    const other = createTestUser(db);
    const a = insertTask(db, { userId: user.id, submitTime: clock.now(), updatedTime: clock.now() });
    const b = insertTask(db, { userId: other.id, submitTime: clock.now(), updatedTime: clock.now() });
    const mine = new AbortController();
    const all = new AbortController();
    const seenByUser = events(feed, user.id, 1, mine);
    const seenByAll = events(feed, null, 2, all);
    write(a.id, '30%');
    write(b.id, '40%');
    feed.publishWritten([
      { id: a.id, userId: user.id },
      { id: b.id, userId: other.id },
    ]);
    const [own] = await seenByUser;
    const both = await seenByAll;
    mine.abort();
    all.abort();
    expect(counted.fingerprints).toBe(0);
    expect([own?.row.id, own?.row.progress]).toEqual([a.id, '30%']);
    expect(both.map((e) => [e.row.id, e.row.progress])).toEqual([
      [a.id, '30%'],
      [b.id, '40%'],
    ]);
  });

  test('a publish after a written one is compared with nothing stale; an unchanged publish then makes no event', async () => {
    const { db, clock, feed, write } = setup();
    const user = createTestUser(db);
    const t = insertTask(db, { userId: user.id, submitTime: clock.now(), updatedTime: clock.now() });
    const ac = new AbortController();
    const gen = feed.subscribe({ userId: user.id }, null, ac.signal, null);
    const next = async () => {
      const r = await gen.next();
      if (r.done || r.value.reload) throw new Error('expected an event');
      return [Number(r.value.eventId.split('-')[1]), r.value.row.progress] as const;
    };
    const got: (readonly [number, string])[] = [];
    // The subscription listens from its first next(), so each is asked for before its change.
    let pending = next();
    write(t.id, '10%');
    const at10 = clock.now();
    feed.publish([t.id]);
    got.push(await pending);
    pending = next();
    write(t.id, '20%');
    feed.publishWritten([{ id: t.id, userId: user.id }]);
    got.push(await pending);
    pending = next();
    // Back to exactly what was fingerprinted at 10%: a change since the written one, which a
    // fingerprint remembered from before it would have dropped.
    db.update(tasks).set({ progress: '10%', updatedTime: at10 }).where(eq(tasks.id, t.id)).run();
    feed.publish([t.id]);
    got.push(await pending);
    pending = next();
    feed.publish([t.id]);
    write(t.id, '40%');
    feed.publish([t.id]);
    got.push(await pending);
    ac.abort();
    expect(got).toEqual([
      [1, '10%'],
      [2, '20%'],
      [3, '10%'],
      [4, '40%'],
    ]);
  });

  test('with asynchronous reads, a written publish comes after the publishes still being read', async () => {
    let open!: (rows: { id: number; user_id: number; fp: string }[]) => void;
    const gate = new Promise<{ id: number; user_id: number; fp: string }[]>((r) => (open = r));
    const reads: TaskFeedReads = {
      fingerprints: () => gate,
      row: async (id) => ({ id, userId: 7 }) as TaskRow,
      replay: async () => [],
    };
    const feed = new InProcessTaskFeed(reads, new ManualClock(1_000), { changeWindowMs: 60_000 });
    const ac = new AbortController();
    const seen = events(feed, null, 2, ac);
    feed.publish([1]);
    feed.publishWritten([{ id: 2, userId: 7 }]);
    open([{ id: 1, user_id: 7, fp: 'a' }]);
    const got = await seen;
    ac.abort();
    expect(got.map((e) => e.row.id)).toEqual([1, 2]);
  });
});
