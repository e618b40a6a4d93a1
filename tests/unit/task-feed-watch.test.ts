import { describe, expect, test } from 'bun:test';
import { eq } from 'drizzle-orm';
import { tasks } from '../../src/db/schema/index.ts';
import { createSqliteFeedReads } from '../../src/db/sqlite/feed-reads.ts';
import {
  InProcessTaskFeed,
  type TaskFeedEvent,
  type TaskFeedReads,
  type TaskFeedReload,
  type TaskFeedSink,
} from '../../src/domain/task-feed.ts';
import { ManualClock } from '../../src/lib/clock.ts';
import { memoryDb } from '../helpers/db.ts';
import { createTestUser, insertTask } from '../helpers/factories.ts';
import { waitFor } from '../helpers/server.ts';

/**
 * InProcessTaskFeed.watch (issue 15): live changes read once and handed to every watcher as the
 * same object; a reconnect's replay comes first and what is published while it is read follows
 * it, nothing lost or repeated; with asynchronous reads (PostgreSQL) the order still holds.
 */

/** The real SQLite reads, answered as promises that settle on a later turn (as PostgreSQL's do), counting row reads. */
function asyncReads(real: ReturnType<typeof createSqliteFeedReads>, counts: { rows: number }): TaskFeedReads {
  const later = <T>(v: T) => new Promise<T>((resolve) => setTimeout(() => resolve(v), 1));
  return {
    fingerprints: (ids) => later(real.fingerprints(ids)),
    row: (id) => {
      counts.rows++;
      return later(real.row(id));
    },
    replay: (...a) => later(real.replay(...a)),
    replaySize: (...a) => later(real.replaySize(...a)),
  };
}

function setup() {
  const db = memoryDb();
  const clock = new ManualClock(1_800_000_000_000);
  const counts = { rows: 0 };
  const feed = new InProcessTaskFeed(asyncReads(createSqliteFeedReads(db), counts), clock, {
    bufferSize: 64,
    changeWindowMs: 3_600_000,
  });
  const user = createTestUser(db);
  const touch = (id: number, progress: string) => {
    clock.advance(10);
    db.update(tasks).set({ progress, updatedTime: clock.now() }).where(eq(tasks.id, id)).run();
    feed.publish([id]);
  };
  const task = () => insertTask(db, { userId: user.id, submitTime: clock.now(), updatedTime: clock.now() });
  return { feed, user, touch, task, counts };
}

function sink() {
  const got: Array<TaskFeedEvent | TaskFeedReload> = [];
  let ended = false;
  const s: TaskFeedSink = {
    event: (e) => got.push(e),
    error: (e) => {
      throw e;
    },
    end: () => (ended = true),
  };
  return { s, got, ended: () => ended };
}

describe('InProcessTaskFeed.watch', () => {
  test('asynchronous reads: every watcher gets every change in order, each change read once, the same object', async () => {
    const { feed, user, touch, task, counts } = setup();
    const ac = new AbortController();
    const sinks = [sink(), sink(), sink()];
    for (const k of sinks) feed.watch({ userId: user.id }, null, ac.signal, null, k.s);
    const all = sink();
    feed.watch({ userId: null }, null, ac.signal, null, all.s);
    const t = task();
    counts.rows = 0;
    for (let i = 1; i <= 10; i++) touch(t.id, `${i * 10}%`);
    await waitFor(() => all.got.length === 10 && sinks.every((k) => k.got.length === 10), 'ten changes each');
    const progress = (k: { got: Array<TaskFeedEvent | TaskFeedReload> }) =>
      k.got.map((e) => (e.reload ? 'reload' : e.row.progress));
    // Rows are read after the writes (as a replica reads after NOTIFY): each event carries the
    // row as it is when read; the events keep their order and the last shows the last write.
    const seqOf = (e: TaskFeedEvent | TaskFeedReload) => Number(e.eventId.split('-')[1]);
    for (const k of [...sinks, all]) {
      const seqs = k.got.map(seqOf);
      expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
      expect(new Set(seqs).size).toBe(10);
      expect(progress(k).at(-1)).toBe('100%');
    }
    expect(counts.rows).toBe(10);
    for (let i = 0; i < 10; i++) expect(sinks[1]!.got[i]).toBe(sinks[0]!.got[i]!);
    ac.abort();
    expect(sinks.every((k) => k.ended()) && all.ended()).toBe(true);
    expect(feed.listenerCount).toBe(0);
  });

  test('a reconnect: the replay first, then what was published while it was read, nothing twice', async () => {
    const { feed, user, touch, task, counts } = setup();
    const first = sink();
    const ac0 = new AbortController();
    feed.watch({ userId: user.id }, null, ac0.signal, null, first.s);
    const a = task();
    touch(a.id, '1%');
    await waitFor(() => first.got.length === 1, 'the first change');
    const seen = first.got[0]!.eventId;

    const missed = [task(), task(), task()];
    for (const t of missed) touch(t.id, '10%');
    // Recorded (publishes apply asynchronously here): a stream that left after `seen` missed them.
    await waitFor(() => first.got.length === 4, 'the missed changes recorded');
    const again = sink();
    const ac = new AbortController();
    // The replay waits (as for a listing place) until the changes published meanwhile have been read.
    let open = () => {};
    const gate = new Promise<void>((resolve) => (open = resolve));
    const guard = async <T>(work: () => Promise<T>): Promise<T> => {
      await gate;
      return work();
    };
    feed.watch(
      { userId: user.id },
      seen,
      ac.signal,
      { bytes: Infinity, itemCap: 49_152, atLeast: () => 0, measure: () => 0, guard },
      again.s,
    );
    counts.rows = 0;
    touch(a.id, '50%');
    touch(missed[0]!.id, '60%');
    // One read per live change, shared by both watchers.
    await waitFor(() => counts.rows === 2, 'the live changes read');
    expect(again.got).toEqual([]);
    open();
    await waitFor(() => again.got.length >= 5, 'the replay and the live changes');
    // The replay (rows as they are when read), then the two live changes, each once.
    expect(again.got.map((e) => (e.reload ? 'reload' : e.row.id))).toEqual([
      ...missed.map((t) => t.id),
      a.id,
      missed[0]!.id,
    ]);
    const last = again.got.at(-1)!;
    expect(last.reload ? null : last.row.progress).toBe('60%');
    expect(again.got.some((e) => e.reload)).toBe(false);
    ac.abort();
    ac0.abort();
  });
});
