import { afterEach, beforeEach, describe, expect, test } from 'bun:test';
import type { TaskRow } from '../../src/contract/rows.ts';
import { InProcessTaskFeed, type TaskFeedEvent, type TaskFeedReads } from '../../src/domain/task-feed.ts';
import { ManualClock } from '../../src/lib/clock.ts';

/**
 * The feed's asynchronous reads (PostgreSQL) failing while the database is away (issue 14, fault
 * 1): no publish may leave a rejection unobserved (one ends the gateway process), a failed read
 * drops that publish only, and the publishes after it still apply in call order.
 */

type Fingerprint = { id: number; user_id: number; fp: string };

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => void unhandled.push(reason);
beforeEach(() => {
  unhandled.length = 0;
  process.on('unhandledRejection', onUnhandled);
});
afterEach(() => {
  process.off('unhandledRejection', onUnhandled);
});

/** Lets every pending promise job and the runtime's rejection tracking run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 0));
}

function row(id: number): TaskRow {
  return { id, userId: 7 } as TaskRow;
}

/** Reads answering from `answers`, one per call, in order: a value, a rejection, or a gate to open later. */
function scriptedReads(answers: Array<() => Promise<Fingerprint[]> | Fingerprint[]>): TaskFeedReads {
  let call = 0;
  return {
    fingerprints: () => answers[call++]!(),
    row: async (id) => row(id),
    replay: async () => [],
  };
}

async function firstEvents(feed: InProcessTaskFeed, n: number, ac: AbortController): Promise<TaskFeedEvent[]> {
  const out: TaskFeedEvent[] = [];
  for await (const e of feed.subscribe({ userId: null }, null, ac.signal, null)) {
    if (!('row' in e)) throw new Error('no replay was asked for, so no reload is expected');
    out.push(e);
    if (out.length === n) break;
  }
  return out;
}

describe('InProcessTaskFeed with failing asynchronous reads', () => {
  test('a read that rejects at once, behind a slower one still pending: no unhandled rejection', async () => {
    let open!: (rows: Fingerprint[]) => void;
    const gate = new Promise<Fingerprint[]>((r) => (open = r));
    const feed = new InProcessTaskFeed(
      scriptedReads([
        () => gate,
        () => Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })),
      ]),
      new ManualClock(1_000),
      { changeWindowMs: 60_000 },
    );
    feed.publish([1]);
    feed.publish([2]);
    // The second read has failed while the first is still pending.
    await settle();
    expect(unhandled).toEqual([]);
    open([{ id: 1, user_id: 7, fp: 'a' }]);
    await settle();
    expect(unhandled).toEqual([]);
  });

  test('a read that throws before returning a promise drops that publish only', async () => {
    const feed = new InProcessTaskFeed(
      scriptedReads([
        () => {
          throw new Error('pool ended');
        },
        async () => [{ id: 3, user_id: 7, fp: 'c' }],
      ]),
      new ManualClock(1_000),
      { changeWindowMs: 60_000 },
    );
    const ac = new AbortController();
    const events = firstEvents(feed, 1, ac);
    await settle();
    expect(() => feed.publish([1])).not.toThrow();
    feed.publish([3]);
    expect((await events).map((e) => e.row.id)).toEqual([3]);
    ac.abort();
  });

  test('after a failed read the later publishes still apply, in call order', async () => {
    let open!: (rows: Fingerprint[]) => void;
    const gate = new Promise<Fingerprint[]>((r) => (open = r));
    const feed = new InProcessTaskFeed(
      scriptedReads([
        () => gate,
        () => Promise.reject(new Error('CONNECTION_CLOSED')),
        async () => [{ id: 3, user_id: 7, fp: 'c' }],
      ]),
      new ManualClock(1_000),
      { changeWindowMs: 60_000 },
    );
    const ac = new AbortController();
    const events = firstEvents(feed, 2, ac);
    await settle();
    feed.publish([1]);
    feed.publish([2]);
    feed.publish([3]);
    await settle();
    open([{ id: 1, user_id: 7, fp: 'a' }]);
    expect((await events).map((e) => e.row.id)).toEqual([1, 3]);
    expect(unhandled).toEqual([]);
    ac.abort();
  });
});
