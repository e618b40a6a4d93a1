import { describe, expect, test } from 'bun:test';
import { eq } from 'drizzle-orm';
import { tasks } from '../../src/db/schema/index.ts';
import { createSqliteFeedReads } from '../../src/db/sqlite/feed-reads.ts';
import { InProcessTaskFeed, type TaskFeedEvent, type TaskFeedReload } from '../../src/domain/task-feed.ts';
import { ManualClock } from '../../src/lib/clock.ts';
import { memoryDb } from '../helpers/db.ts';
import { createTestUser, insertTask } from '../helpers/factories.ts';

/** The in-process task feed: dedup of unchanged rows, ordering, the ring buffer and its bound. */

async function take(gen: AsyncGenerator<TaskFeedEvent | TaskFeedReload>, n: number): Promise<TaskFeedEvent[]> {
  const out: TaskFeedEvent[] = [];
  while (out.length < n) {
    const r = await gen.next();
    if (r.done) break;
    if (r.value.reload) throw new Error('unexpected reload');
    out.push(r.value);
  }
  return out;
}

/** The event id a live subscriber gets for the change `change` makes (then it disconnects). */
async function firstEventOf(feed: InProcessTaskFeed, userId: number, change: () => void): Promise<TaskFeedEvent> {
  const ac = new AbortController();
  const firstEvent = take(feed.subscribe({ userId }, null, ac.signal, null), 1);
  change();
  const [seen] = await firstEvent;
  ac.abort();
  return seen!;
}

function setup(bufferSize = 16, replayLimit?: number) {
  const db = memoryDb();
  const clock = new ManualClock(1_800_000_000_000);
  const feed = new InProcessTaskFeed(createSqliteFeedReads(db), clock, {
    bufferSize,
    changeWindowMs: 3_600_000,
    ...(replayLimit ? { replayLimit } : {}),
  });
  const user = createTestUser(db);
  const other = createTestUser(db);
  const touch = (id: number, progress: string) => {
    clock.advance(10);
    db.update(tasks).set({ progress, updatedTime: clock.now() }).where(eq(tasks.id, id)).run();
    feed.publish([id]);
  };
  const task = (userId: number) => insertTask(db, { userId, submitTime: clock.now(), updatedTime: clock.now() });
  return { db, clock, feed, user, other, touch, task };
}

describe('InProcessTaskFeed', () => {
  test('publishing an unchanged row again makes no event; other users see nothing', async () => {
    const { feed, user, other, touch, task } = setup();
    const ac = new AbortController();
    const mine = feed.subscribe({ userId: user.id }, null, ac.signal, null);
    const a = task(user.id);
    const b = task(other.id);
    const first = take(mine, 1);
    touch(b.id, '10%');
    touch(a.id, '10%');
    const [e1] = await first;
    feed.publish([a.id, b.id]);
    touch(b.id, '20%');
    const second = take(mine, 1);
    touch(a.id, '50%');
    const [e2] = await second;
    ac.abort();
    expect([e1?.row.id, e1?.row.progress, e2?.row.id, e2?.row.progress]).toEqual([a.id, '10%', a.id, '50%']);
    expect(Number(e2!.eventId.split('-')[1])).toBe(Number(e1!.eventId.split('-')[1]) + 2);
  });

  test('a reconnect inside the buffer replays exactly the missed changes; beyond it, the database does', async () => {
    const { feed, user, touch, task } = setup(16);
    const seen = await firstEventOf(feed, user.id, () => touch(task(user.id).id, '5%'));

    const missed = task(user.id);
    touch(missed.id, '20%');
    const replay = new AbortController();
    const again = await take(feed.subscribe({ userId: user.id }, seen.eventId, replay.signal, null), 1);
    replay.abort();
    expect(again.map((e) => e.row.id)).toEqual([missed.id]);

    // 40 more changes push the first event out of a 16-entry buffer.
    const many = Array.from({ length: 40 }, () => task(user.id));
    for (const t of many) touch(t.id, '30%');
    const fromDb = new AbortController();
    const replayed = await take(feed.subscribe({ userId: user.id }, seen.eventId, fromDb.signal, null), 42);
    fromDb.abort();
    const ids = new Set(replayed.map((e) => e.row.id));
    expect(ids.has(missed.id)).toBe(true);
    for (const t of many) expect(ids.has(t.id)).toBe(true);
  });

  test('a replay read while new changes trim the buffer misses none of what it replays', async () => {
    const { feed, user, touch, task } = setup(16);
    const seen = await firstEventOf(feed, user.id, () => touch(task(user.id).id, '5%'));

    const missed = Array.from({ length: 12 }, () => task(user.id));
    for (const t of missed) touch(t.id, '10%');
    const replay = new AbortController();
    const gen = feed.subscribe({ userId: user.id }, seen.eventId, replay.signal, null);
    const got = await take(gen, 1);
    // While the reader is suspended after its first event, 20 more changes trim the buffer.
    const later = Array.from({ length: 20 }, () => task(user.id));
    for (const t of later) touch(t.id, '20%');
    got.push(...(await take(gen, 11)));
    replay.abort();
    expect(got.map((e) => e.row.id)).toEqual(missed.map((t) => t.id));
  });

  test('a replay past its limit is not sent: the subscriber is told to reload, then gets the live changes', async () => {
    const { feed, user, touch, task, clock } = setup(16, 3);
    const seen = await firstEventOf(feed, user.id, () => touch(task(user.id).id, '5%'));
    const later = Array.from({ length: 40 }, () => task(user.id));
    for (const t of later) touch(t.id, '30%');
    // From the database (older than the buffer) and from inside the buffer (10 changes ago): both past 3 changes.
    const [boot, seq] = seen.eventId.split('-');
    for (const from of [seen.eventId, `${boot}-${Number(seq) + 30}-${clock.now()}`]) {
      const replay = new AbortController();
      const gen = feed.subscribe({ userId: user.id }, from, replay.signal, null);
      const first = await gen.next();
      expect(first.value).toMatchObject({ reload: true });
      const live = take(gen, 1);
      touch(later[0]!.id, '60%');
      expect((await live).map((e) => e.row.id)).toEqual([later[0]!.id]);
      replay.abort();
    }
  });

  test('a replay past its byte budget is not sent either', async () => {
    const { feed, user, touch, task } = setup(16);
    const seen = await firstEventOf(feed, user.id, () => touch(task(user.id).id, '5%'));
    for (let i = 0; i < 5; i++) touch(task(user.id).id, '30%');
    const replay = new AbortController();
    const gen = feed.subscribe({ userId: user.id }, seen.eventId, replay.signal, {
      bytes: 4_000,
      itemCap: 49_152,
      atLeast: () => 0,
      measure: () => 1_000,
    });
    const first = await gen.next();
    replay.abort();
    expect(first.value).toMatchObject({ reload: true });
  });
});
