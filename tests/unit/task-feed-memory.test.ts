import { describe, expect, test } from 'bun:test';
import type { DB } from '../../src/db/client.ts';
import { createSqliteFeedReads } from '../../src/db/sqlite/feed-reads.ts';
import { InProcessTaskFeed } from '../../src/domain/task-feed.ts';
import { FingerprintMemory } from '../../src/domain/task-feed-memory.ts';
import { ManualClock } from '../../src/lib/clock.ts';
import { memoryDb } from '../helpers/db.ts';
import { createTestUser } from '../helpers/factories.ts';

/**
 * The feed's fingerprint memory (issue 15): bounded, forgets the oldest changes first, and costs
 * O(1) per change at any number of ids. The old memory was a Map evicting `keys().next()` once it
 * held 20,000 ids: every eviction started an iterator at the front of the map, which walks every
 * deleted entry piled up there (50 µs per change at 100,000 ids, ~5 s per 100k-row tick).
 */

/** `n` unfinished tasks of one new user; their ids, in insert order. */
function seedTasks(db: DB, n: number): { userId: number; ids: number[] } {
  const user = createTestUser(db);
  const insert =
    db.$client.prepare(`INSERT INTO tasks (user_id, channel_id, action, mj_id, prompt, submit_time, progress, status, updated_time)
    VALUES (?, 1, 'IMAGINE', ?, 'a cat', 1, '0%', 'SUBMITTED', 1) RETURNING id`);
  const ids: number[] = [];
  db.$client.transaction(() => {
    for (let i = 0; i < n; i++) ids.push((insert.get(user.id, `m${i}`) as { id: number }).id);
  })();
  return { userId: user.id, ids };
}

/** Publishes `ids` in poller-sized batches. */
function publishAll(feed: InProcessTaskFeed, ids: readonly number[]): void {
  for (let i = 0; i < ids.length; i += 100) feed.publish(ids.slice(i, i + 100));
}

/** Changes the feed has recorded so far: the sequence number of the event the next change gets. */
async function changesSoFar(feed: InProcessTaskFeed, db: DB): Promise<number> {
  const sentinel = seedTasks(db, 1).ids[0]!;
  const ac = new AbortController();
  const gen = feed.subscribe({ userId: null }, null, ac.signal, null);
  const next = gen.next();
  feed.publish([sentinel]);
  const ev = (await next).value;
  ac.abort();
  await gen.return(undefined);
  return Number(/-(\d+)-/.exec(ev!.eventId)![1]) - 1;
}

describe('task feed fingerprint memory', () => {
  test('recording 25,000 distinct tasks (past the 20,000 kept) never walks the memory from its front', () => {
    const db = memoryDb();
    const feed = new InProcessTaskFeed(createSqliteFeedReads(db), new ManualClock(1_800_000_000_000), {
      changeWindowMs: 3_600_000,
    });
    const { ids } = seedTasks(db, 25_000);
    // Every way to start iterating a Map, counted while the feed records: an eviction that starts
    // at the front of the map is what made each change cost O(deleted entries).
    const proto = Map.prototype as unknown as Record<string | symbol, (...args: unknown[]) => unknown>;
    const names: Array<string | symbol> = ['keys', 'values', 'entries', 'forEach', Symbol.iterator];
    const saved = names.map((n) => proto[n]!);
    let iterations = 0;
    names.forEach((n, k) => {
      proto[n] = function (this: unknown, ...args: unknown[]) {
        iterations++;
        return saved[k]!.apply(this, args);
      };
    });
    try {
      publishAll(feed, ids);
    } finally {
      names.forEach((n, k) => {
        proto[n] = saved[k]!;
      });
    }
    expect(iterations).toBe(0);
    db.$client.close();
  });

  test('the memory keeps the latest changes and forgets the oldest first', async () => {
    const db = memoryDb();
    const feed = new InProcessTaskFeed(createSqliteFeedReads(db), new ManualClock(1_800_000_000_000), {
      changeWindowMs: 3_600_000,
      fingerprintMemory: 1000,
    });
    const { ids } = seedTasks(db, 1500);
    publishAll(feed, ids);
    expect(await changesSoFar(feed, db)).toBe(1500);
    // Unchanged rows published again: the newest are remembered (no event); the oldest were
    // forgotten and count as changes once more.
    publishAll(feed, ids.slice(1000));
    const afterNewest = await changesSoFar(feed, db);
    expect(afterNewest).toBe(1500 + 1);
    publishAll(feed, ids.slice(0, 100));
    expect(await changesSoFar(feed, db)).toBe(afterNewest + 1 + 100);
    db.$client.close();
  });
});

describe('FingerprintMemory', () => {
  test('never holds more than its capacity, whatever repeats', () => {
    const m = new FingerprintMemory(100);
    for (let i = 0; i < 10_000; i++) m.changed(i % 250, `fp${i}`);
    expect(m.size).toBeLessThanOrEqual(100);
    expect(m.size).toBeGreaterThan(0);
  });

  test('a task changed again stays remembered past its first change', () => {
    const m = new FingerprintMemory(3);
    expect([m.changed(1, 'a'), m.changed(2, 'a'), m.changed(1, 'b'), m.changed(3, 'a')]).toEqual([
      true,
      true,
      true,
      true,
    ]);
    // Four changes into a memory of three: task 1's first change left, its second is still in.
    expect(m.changed(1, 'b')).toBe(false);
    // Task 2's only change was the oldest of the last three before task 4 came in.
    expect(m.changed(4, 'a')).toBe(true);
    expect(m.changed(2, 'a')).toBe(true);
    expect(m.changed(3, 'a')).toBe(false);
    expect(m.size).toBe(3);
  });
});
