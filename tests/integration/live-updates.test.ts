import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { createTRPCClient } from '@trpc/client';
import { createPoller, type Poller } from '../../src/jobs/poller.ts';
import { ManualClock } from '../../src/lib/clock.ts';
import { type Simulator, startSimulator } from '../../src/simulator/index.ts';
import type { AppRouter } from '../../src/trpc/routers/index.ts';
import { gatewayLinks } from '../../src/web/links.ts';
import { createTestApiKey, createTestChannel, createTestUser, type TestUser } from '../helpers/factories.ts';
import { ROOT_TOKEN, startTestServer, type TestServer, waitFor } from '../helpers/server.ts';

/** mj.onTaskUpdate over real SSE, through the same tRPC links the dashboard uses. */

type Item = { id: number; mj_id: string; status: string; progress: string; user_id?: number };
type Received = { id: string; data: Item };

const SECRET = 'live-secret';
let srv: TestServer;
let sim: Simulator;
let poller: Poller;
const simClock = new ManualClock();
let alice: TestUser & { key: Record<string, string> };
let bob: TestUser & { key: Record<string, string> };

function clientOf(u: { accessToken: string; id: number }) {
  return createTRPCClient<AppRouter>({ links: gatewayLinks({ url: srv.url, token: u.accessToken, userId: u.id }) });
}

/** Subscribe and collect what arrives; `stop` ends the subscription. */
function collect(u: { accessToken: string; id: number }, input: { all?: boolean; lastEventId?: string } = {}) {
  const got: Received[] = [];
  const errors: unknown[] = [];
  const sub = clientOf(u).mj.onTaskUpdate.subscribe(input, {
    onData: (d) => got.push(d as unknown as Received),
    onError: (e) => errors.push(e),
  });
  return {
    got,
    errors,
    /** Ends the subscription and waits until the server let go of it, so the next test starts clean. */
    stop: async () => {
      sub.unsubscribe();
      await waitFor(() => listeners() === 0, 'the subscription to end');
    },
  };
}

const listeners = () => (srv.deps.taskFeed as { listenerCount?: number }).listenerCount;
const listening = () => waitFor(() => listeners() === 1, 'the subscription to listen');

async function relayImagine(key: Record<string, string>, prompt: string): Promise<string> {
  const res = await fetch(`${srv.url}/mj/submit/imagine`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...key },
    body: JSON.stringify({ prompt }),
  });
  const body = (await res.json()) as { code: number; result: string };
  expect(body.code).toBe(1);
  return body.result;
}

beforeAll(async () => {
  srv = await startTestServer();
  sim = await startSimulator({ secret: SECRET, clock: simClock, stepMs: 1000 });
  createTestChannel(srv.db, sim.url, { key: SECRET });
  poller = createPoller(srv.deps);
  const a = createTestUser(srv.db, { quota: 10_000_000 });
  const b = createTestUser(srv.db, { quota: 10_000_000 });
  alice = { ...a, key: createTestApiKey(srv.db, a.id).headers };
  bob = { ...b, key: createTestApiKey(srv.db, b.id).headers };
});

afterAll(async () => {
  await poller.stop();
  await sim.stop();
  await srv.stop();
});

describe('mj.onTaskUpdate', () => {
  test("a user receives their own task's changes, up to 100%, and never another user's", async () => {
    const sub = collect(alice);
    await listening();
    const bobsTask = await relayImagine(bob.key, 'bob private cat');
    const alicesTask = await relayImagine(alice.key, 'alice cat');
    for (let i = 0; i < 12; i++) {
      simClock.advance(1000);
      await poller.runOnce();
    }
    await waitFor(
      () => sub.got.some((e) => e.data.mj_id === alicesTask && e.data.progress === '100%'),
      "alice's task at 100%",
    );
    await sub.stop();
    expect(sub.errors).toEqual([]);
    expect(sub.got.every((e) => e.data.mj_id !== bobsTask)).toBe(true);
    expect(sub.got.some((e) => e.data.progress !== '100%')).toBe(true);
    // §6.1 items: no owner or channel for a user's own feed.
    expect(sub.got[0]?.data.user_id).toBeUndefined();
    const ids = sub.got.map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  test('a reconnect with the last event id replays what was missed, from the buffer', async () => {
    const first = collect(alice);
    await listening();
    const before = await relayImagine(alice.key, 'before the break');
    const seen = await waitFor(() => first.got.find((e) => e.data.mj_id === before), 'the first event');
    await first.stop();

    const missed = await relayImagine(alice.key, 'while away');
    const again = collect(alice, { lastEventId: seen.id });
    await waitFor(() => again.got.some((e) => e.data.mj_id === missed), 'the missed task to be replayed');
    await again.stop();
    expect(again.errors).toEqual([]);
  });

  test('an event id older than the buffer (or from a previous process) replays from the database', async () => {
    const since = Date.now() - 5 * 60_000;
    const task = await relayImagine(alice.key, 'after a restart');
    const sub = collect(alice, { lastEventId: `oldboot-1-${since}` });
    await waitFor(() => sub.got.some((e) => e.data.mj_id === task), 'the task from the database');
    await sub.stop();
    const bobs = await relayImagine(bob.key, 'bob again');
    const replay = collect(alice, { lastEventId: `oldboot-1-${since}` });
    await waitFor(() => replay.got.length > 0, 'a replay');
    await replay.stop();
    expect(replay.got.some((e) => e.data.mj_id === bobs)).toBe(false);
  });

  test('admins may follow every task as §6.2 items; users may not', async () => {
    const root = { accessToken: ROOT_TOKEN, id: 1 };
    const sub = collect(root, { all: true });
    await listening();
    const task = await relayImagine(bob.key, 'seen by the admin');
    const got = await waitFor(() => sub.got.find((e) => e.data.mj_id === task), "bob's task in the admin feed");
    await sub.stop();
    expect(got.data.user_id).toBe(bob.id);

    const denied = collect(alice, { all: true });
    await waitFor(() => denied.errors.length > 0, 'the refusal');
    await denied.stop();
    expect(String((denied.errors[0] as Error).message)).toBe('Unauthorized, insufficient privileges');
  });

  test('raw SSE with the management headers', async () => {
    const input = encodeURIComponent(JSON.stringify({}));
    const ac = new AbortController();
    const res = await fetch(`${srv.url}/trpc/mj.onTaskUpdate?input=${input}`, {
      headers: {
        accept: 'text/event-stream',
        authorization: `Bearer ${alice.accessToken}`,
        'new-api-user': String(alice.id),
      },
      signal: ac.signal,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toStartWith('text/event-stream');
    const reader = res.body!.getReader();
    let text = '';
    await waitFor(async () => {
      text += new TextDecoder().decode((await reader.read()).value);
      return text.includes('event: connected');
    }, 'the connected event');
    const task = await relayImagine(alice.key, 'seen over raw sse');
    await waitFor(async () => {
      text += new TextDecoder().decode((await reader.read()).value);
      return text.includes(task);
    }, 'the task over raw SSE');
    ac.abort();
    await waitFor(() => listeners() === 0, 'the raw subscription to end');
    expect(text).toMatch(/\nid: [A-Za-z0-9]+-\d+-\d+\n/);
  });

  test('a subscription without credentials is refused', async () => {
    const sub = collect({ accessToken: 'not-a-token', id: 1 });
    await waitFor(() => sub.errors.length > 0, 'the refusal');
    await sub.stop();
    expect(String((sub.errors[0] as Error).message)).toBe('Unauthorized, invalid access token');
  });
});
