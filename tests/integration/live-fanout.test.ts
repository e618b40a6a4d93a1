import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { eq } from 'drizzle-orm';
import { tasks } from '../../src/db/schema/index.ts';
import { createSqliteFeedReads } from '../../src/db/sqlite/feed-reads.ts';
import { changeWindowOf, InProcessTaskFeed, type TaskFeedReads } from '../../src/domain/task-feed.ts';
import { liveSse } from '../../src/http/live-sse.ts';
import { systemClock } from '../../src/lib/clock.ts';
import { createTestUser, insertTask, type TestUser } from '../helpers/factories.ts';
import { ROOT_HEADERS, startTestServer, type TestServer, waitFor } from '../helpers/server.ts';

/**
 * Issue 15, point 1: a live change costs per event, not per subscriber. Many streams of several
 * users and admins (`{ all: true }`) each get exactly the changes they may see, the row of a
 * change is read once whatever the number of streams, and one serialisation (the same bytes
 * object) is written to every stream of an audience; a stream that does not read holds nobody.
 */

let srv: TestServer;
/** Row reads per task id, through the real SQLite reads. */
const rowReads = new Map<number, number>();
let feed: InProcessTaskFeed;

beforeAll(async () => {
  srv = await startTestServer();
  const real = createSqliteFeedReads(srv.db);
  const counting: TaskFeedReads = {
    fingerprints: (ids) => real.fingerprints(ids),
    row: (id) => {
      rowReads.set(id, (rowReads.get(id) ?? 0) + 1);
      return real.row(id);
    },
    replay: (...a) => real.replay(...a),
    replaySize: (...a) => real.replaySize(...a),
  };
  feed = new InProcessTaskFeed(counting, systemClock, { changeWindowMs: changeWindowOf(srv.config) });
  srv.deps.taskFeed = feed;
});

afterAll(async () => {
  await srv.stop();
});

type Frame = { id: string; data: { id?: string; progress?: string; userId?: number } };

/** A raw SSE stream over HTTP, as httpSubscriptionLink opens it; its tracked frames as they come. */
async function open(headers: Record<string, string>, input: object = {}) {
  const ac = new AbortController();
  const res = await fetch(`${srv.url}/trpc/mj.onTaskUpdate?input=${encodeURIComponent(JSON.stringify(input))}`, {
    headers: { accept: 'text/event-stream', ...headers },
    signal: ac.signal,
  });
  expect(res.status).toBe(200);
  const frames: Frame[] = [];
  let text = '';
  const reader = res.body!.getReader();
  void (async () => {
    for (;;) {
      const r = await reader.read().catch(() => ({ done: true as const, value: undefined }));
      if (r.done) return;
      text += new TextDecoder().decode(r.value);
      let m: RegExpExecArray | null;
      const re = /data: (.*)\nid: (.*)\n\n\n/y;
      while ((m = re.exec(text))) {
        frames.push({ id: m[2]!, data: JSON.parse(m[1]!) as Frame['data'] });
        text = text.slice(re.lastIndex);
        re.lastIndex = 0;
      }
      const skip = /^event: (?:connected|ping)\ndata: .*\n\n\n/.exec(text);
      if (skip) text = text.slice(skip[0].length);
    }
  })();
  return { frames, close: () => ac.abort() };
}

function touch(id: number, progress: string) {
  srv.db.update(tasks).set({ progress, updatedTime: Date.now() }).where(eq(tasks.id, id)).run();
}

describe('live fan-out', () => {
  test('each stream gets exactly what it may see; a change is read once for all of them', async () => {
    const a = createTestUser(srv.db);
    const b = createTestUser(srv.db);
    const c = createTestUser(srv.db);
    const streams = {
      a: [await open(a.headers), await open(a.headers), await open(a.headers)],
      b: [await open(b.headers), await open(b.headers)],
      admin: [await open(ROOT_HEADERS, { all: true }), await open(ROOT_HEADERS, { all: true })],
    };
    await waitFor(() => feed.listenerCount === 7, 'every stream to listen');
    const ta = insertTask(srv.db, { userId: a.id });
    const tb = insertTask(srv.db, { userId: b.id });
    const tc = insertTask(srv.db, { userId: c.id });
    rowReads.clear();
    // Round by round (each delivered before the next), so a per-stream reader collapsing a task's
    // pending changes would still be read once per stream per change.
    for (const [i, p] of ['10%', '20%', '30%'].entries()) {
      for (const t of [ta, tb, tc]) touch(t.id, p);
      feed.publish([ta.id, tb.id, tc.id]);
      await waitFor(
        () =>
          [...streams.a, ...streams.b].every((s) => s.frames.length === i + 1) &&
          streams.admin.every((s) => s.frames.length === 3 * (i + 1)),
        `round ${i + 1} delivered`,
      );
    }
    const progressOf = (s: { frames: Frame[] }) => s.frames.map((f) => f.data.progress);
    for (const s of streams.a) expect(progressOf(s)).toEqual(['10%', '20%', '30%']);
    for (const s of streams.b) expect(progressOf(s)).toEqual(['10%', '20%', '30%']);
    // One task each: a's streams never carry b's task.
    for (const s of streams.a)
      expect(new Set(s.frames.map((f) => f.data.id))).toEqual(new Set([streams.a[0]!.frames[0]!.data.id]));
    expect(streams.a[0]!.frames[0]!.data.id).not.toBe(streams.b[0]!.frames[0]!.data.id);
    // Admins: all three users' tasks, each change once, in publish order.
    for (const s of streams.admin)
      expect(progressOf(s)).toEqual(['10%', '10%', '10%', '20%', '20%', '20%', '30%', '30%', '30%']);
    // Same event ids on every stream of a change.
    expect(streams.a[1]!.frames.map((f) => f.id)).toEqual(streams.a[0]!.frames.map((f) => f.id));
    // One read per change, not one per stream: 3 publishes × 3 tasks, and c's task (watched by
    // the admins only) too.
    expect(rowReads.get(ta.id)).toBe(3);
    expect(rowReads.get(tb.id)).toBe(3);
    expect(rowReads.get(tc.id)).toBe(3);
    for (const s of [...streams.a, ...streams.b, ...streams.admin]) s.close();
    await waitFor(() => feed.listenerCount === 0, 'every stream to end');
  });

  test('a change no stream may see is not read', async () => {
    const a = createTestUser(srv.db);
    const b = createTestUser(srv.db);
    const s = await open(a.headers);
    await waitFor(() => feed.listenerCount === 1, 'the stream to listen');
    const tb = insertTask(srv.db, { userId: b.id });
    const ta = insertTask(srv.db, { userId: a.id });
    rowReads.clear();
    touch(tb.id, '50%');
    touch(ta.id, '50%');
    feed.publish([tb.id, ta.id]);
    await waitFor(() => s.frames.length === 1, "a's change");
    expect(rowReads.get(tb.id)).toBeUndefined();
    s.close();
    await waitFor(() => feed.listenerCount === 0, 'the stream to end');
  });
});

/** The response of one stream, called in-process: its chunks are the very objects written. */
async function direct(u: { headers: Record<string, string> }, input: object = {}) {
  const req = new Request(`${srv.url}/trpc/mj.onTaskUpdate?input=${encodeURIComponent(JSON.stringify(input))}`, {
    headers: u.headers,
  });
  const res = await liveSse(srv.deps, req, 'test');
  if (!(res instanceof Response)) throw new Error(`no stream: ${res}`);
  return res.body!.getReader();
}

describe('live fan-out, in process', () => {
  test('the same bytes object goes to every stream of an audience; an unread stream holds nobody', async () => {
    const a: TestUser = createTestUser(srv.db);
    const readers = [await direct(a), await direct(a)];
    const admins = [
      await direct({ headers: ROOT_HEADERS }, { all: true }),
      await direct({ headers: ROOT_HEADERS }, { all: true }),
    ];
    // Never read: its frames queue up; the others are written to regardless.
    const idle = await direct(a);
    await waitFor(() => feed.listenerCount === 5, 'every stream to listen');
    for (const r of [...readers, ...admins]) await r.read(); // `connected`
    const t = insertTask(srv.db, { userId: a.id });
    const mine: Uint8Array[] = [];
    const theirs: Uint8Array[] = [];
    for (let i = 1; i <= 20; i++) {
      touch(t.id, `${i}%`);
      feed.publish([t.id]);
    }
    for (let i = 0; i < 20; i++) {
      const [r0, r1] = [await readers[0]!.read(), await readers[1]!.read()];
      expect(r0.value).toBe(r1.value!);
      mine.push(r0.value!);
      const [a0, a1] = [await admins[0]!.read(), await admins[1]!.read()];
      expect(a0.value).toBe(a1.value!);
      theirs.push(a0.value!);
    }
    const text = new TextDecoder().decode(mine[19]);
    expect(text).toMatch(/^data: \{.*"progress":"20%".*\}\nid: \S+\n\n\n$/);
    // The admin item is another serialisation (the §6.2 item), made once for both admins.
    expect(theirs[19]).not.toBe(mine[19]!);
    for (const r of [...readers, ...admins, idle]) await r.cancel();
    await waitFor(() => feed.listenerCount === 0, 'every stream to end');
  });

  test('a stream that stops reading is let go once far behind (it reconnects with its last id); the others get everything', async () => {
    const a: TestUser = createTestUser(srv.db);
    const reader = await direct(a);
    const idle = await direct(a);
    await waitFor(() => feed.listenerCount === 2, 'both streams to listen');
    const t = insertTask(srv.db, { userId: a.id });
    const n = 4_200; // past the 4,096 frames a stream may have queued
    let got = 0;
    let text = '';
    const reading = (async () => {
      const dec = new TextDecoder();
      while (got < n) {
        const r = await reader.read();
        if (r.done) throw new Error('the reading stream ended');
        text += dec.decode(r.value);
        const frames = text.split('\n\n\n');
        text = frames.pop()!;
        got += frames.filter((f) => f.startsWith('data: ')).length;
      }
    })();
    for (let i = 1; i <= n; i++) {
      touch(t.id, `${i}`);
      feed.publish([t.id]);
      if (i % 100 === 0) await new Promise<void>((resolve) => setImmediate(resolve));
    }
    await reading;
    expect(got).toBe(n);
    // The idle stream was closed without `return` (so a client reconnects): its queue ends.
    let last = '';
    for (;;) {
      const r = await idle.read();
      if (r.done) break;
      last = new TextDecoder().decode(r.value);
    }
    expect(last).not.toContain('event: return');
    expect(feed.listenerCount).toBe(1);
    await reader.cancel();
    await waitFor(() => feed.listenerCount === 0, 'the stream to end');
  });
});
