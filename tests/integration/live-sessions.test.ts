import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { createTRPCClient } from '@trpc/client';
import { openSubscriptionsOf } from '../../src/domain/answer-limits.ts';
import type { AppRouter } from '../../src/trpc/routers/index.ts';
import { gatewayLinks } from '../../src/web/links.ts';
import { createTestUser, insertTask, type TestUser } from '../helpers/factories.ts';
import { ROOT_HEADERS, startTestServer, type TestServer, waitFor } from '../helpers/server.ts';

/**
 * SPEC §10 for live streams (`mj.onTaskUpdate`): tokens from headers only, at most 8 streams per
 * user, a replay past 1,000 changes or 8 MiB becomes "reload", and a stream ends within 5 s of its
 * token being regenerated, its user disabled, or (for `{ all: true }`) its admin role going.
 */

let srv: TestServer;

beforeAll(async () => {
  srv = await startTestServer();
});

afterAll(async () => {
  await srv.stop();
});

const listeners = () => (srv.deps.taskFeed as { listenerCount?: number }).listenerCount ?? 0;

function clientOf(u: { accessToken: string; id: number }) {
  return createTRPCClient<AppRouter>({ links: gatewayLinks({ url: srv.url, token: u.accessToken, userId: u.id }) });
}

/** Subscribe through the dashboard's links and collect what arrives. */
function collect(u: { accessToken: string; id: number }, input: { all?: boolean; lastEventId?: string } = {}) {
  const got: Array<{ id: string; data: Record<string, unknown> }> = [];
  const errors: Error[] = [];
  let started = false;
  const sub = clientOf(u).mj.onTaskUpdate.subscribe(input, {
    onStarted: () => (started = true),
    onData: (d) => got.push(d as unknown as { id: string; data: Record<string, unknown> }),
    onError: (e) => errors.push(e),
  });
  return { got, errors, started: () => started, stop: () => sub.unsubscribe() };
}

/** A raw SSE request of mj.onTaskUpdate; the caller aborts it. */
async function rawSse(headers: Record<string, string>, query = '') {
  const ac = new AbortController();
  const input = encodeURIComponent(JSON.stringify({}));
  const res = await fetch(`${srv.url}/trpc/mj.onTaskUpdate?input=${input}${query}`, {
    headers: { accept: 'text/event-stream', ...headers },
    signal: ac.signal,
  });
  return { res, abort: () => ac.abort() };
}

type SseError = { message: string; code: number; data: { code: string; httpStatus: number } };

/**
 * The error a raw SSE answer carries. tRPC answers a subscription 200 and sends a refusal as its
 * `serialized-error` event (the httpStatus is in the data), then ends the stream.
 */
async function sseError(res: Response): Promise<SseError> {
  const reader = res.body!.getReader();
  let text = '';
  for (;;) {
    const m = /event: serialized-error\ndata: (.*)\n/.exec(text);
    if (m) {
      await reader.cancel();
      return JSON.parse(m[1]!) as SseError;
    }
    const chunk = await reader.read();
    if (chunk.done) throw new Error(`the stream ended without an error: ${text}`);
    text += new TextDecoder().decode(chunk.value);
  }
}

async function trpcMutation(headers: Record<string, string>, path: string, input?: unknown) {
  const res = await fetch(`${srv.url}/trpc/${path}`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify(input ?? {}),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { result: { data: unknown } }).result.data;
}

/** The stream of `u` ends with an error, within the 5 s SPEC §10 allows. */
async function endsWithin5s(sub: ReturnType<typeof collect>, what: string): Promise<Error> {
  return waitFor(() => sub.errors[0], what, 5_000);
}

describe('tokens are read from headers only', () => {
  test('a token in tRPC connectionParams (in the URL) is not accepted', async () => {
    const u = createTestUser(srv.db);
    const params = encodeURIComponent(
      JSON.stringify({ authorization: `Bearer ${u.accessToken}`, 'new-api-user': String(u.id) }),
    );
    const { res, abort } = await rawSse({}, `&connectionParams=${params}`);
    const err = await sseError(res);
    abort();
    expect(err.data).toMatchObject({ code: 'UNAUTHORIZED', httpStatus: 401 });
    expect(err.message).toBe('Unauthorized, not logged in and no access token provided');
    expect(listeners()).toBe(0);
  });
});

describe('at most 8 open streams per user', () => {
  test('the 9th is refused with HTTP 429 TOO_MANY_REQUESTS before it listens; closing one frees a place', async () => {
    const u = createTestUser(srv.db);
    const open = [];
    for (let i = 0; i < 8; i++) {
      const s = await rawSse(u.headers);
      expect(s.res.status).toBe(200);
      open.push(s);
    }
    await waitFor(() => openSubscriptionsOf(srv.deps.taskStore, u.id) === 8, '8 streams open');
    const ninth = await rawSse(u.headers);
    // An HTTP 429 (not a 200 stream carrying the error), in tRPC's error shape.
    expect(ninth.res.status).toBe(429);
    const err = ((await ninth.res.json()) as { error: { message: string; data: unknown } }).error;
    expect(err.data).toMatchObject({ code: 'TOO_MANY_REQUESTS', httpStatus: 429 });
    expect(err.message).toBe('too_many_requests');
    expect(openSubscriptionsOf(srv.deps.taskStore, u.id)).toBe(8);
    // Another user is not affected.
    const other = createTestUser(srv.db);
    const theirs = await rawSse(other.headers);
    expect(theirs.res.status).toBe(200);
    theirs.abort();
    open.pop()!.abort();
    await waitFor(() => openSubscriptionsOf(srv.deps.taskStore, u.id) === 7, 'a place freed');
    const again = await rawSse(u.headers);
    expect(again.res.status).toBe(200);
    again.abort();
    for (const s of open) s.abort();
    await waitFor(
      () => openSubscriptionsOf(srv.deps.taskStore, u.id) === 0 && listeners() === 0,
      'every stream closed',
    );
  });
});

describe('a replay past its bounds tells the client to reload', () => {
  const since = () => `oldboot-1-${Date.now() - 60 * 60_000}`;

  test('more than 1,000 changes since the last event id: { reload: true }, then live changes', async () => {
    const u = createTestUser(srv.db);
    const c = srv.db.$client;
    const insert =
      c.prepare(`INSERT INTO tasks (user_id, mj_id, action, prompt, submit_time, updated_time, status, progress)
      VALUES (?, ?, 'IMAGINE', 'a cat', ?, ?, 'SUBMITTED', '0%')`);
    const now = Date.now();
    c.transaction(() => {
      for (let i = 0; i < 1001; i++) insert.run(u.id, `many-${u.id}-${i}`, now, now);
    })();
    const sub = collect(u, { lastEventId: since() });
    const first = await waitFor(() => sub.got[0], 'the first event');
    expect(first.data).toEqual({ reload: true });
    // Live changes follow.
    const task = insertTask(srv.db, { userId: u.id, mjId: `after-${u.id}` });
    srv.deps.taskFeed.publish([task.id]);
    await waitFor(() => sub.got.some((e) => e.data.mj_id === `after-${u.id}`), 'a live change after the reload');
    expect(sub.got.filter((e) => 'reload' in e.data)).toHaveLength(1);
    expect(sub.got.length).toBe(2);
    sub.stop();
    await waitFor(() => listeners() === 0, 'the stream to end');
  });

  test('a replay of more than 8 MiB (200 items of 48 KiB) is not sent either', async () => {
    const u = createTestUser(srv.db);
    const c = srv.db.$client;
    const prompt = '\u0001'.repeat(8179);
    const insert =
      c.prepare(`INSERT INTO tasks (user_id, mj_id, action, prompt, prompt_en, submit_time, updated_time, status, progress)
      VALUES (?, ?, 'IMAGINE', ?, ?, ?, ?, 'SUBMITTED', '0%')`);
    const now = Date.now();
    c.transaction(() => {
      for (let i = 0; i < 200; i++) insert.run(u.id, `fat-${u.id}-${i}`, prompt, prompt, now, now);
    })();
    const sub = collect(u, { lastEventId: since() });
    const first = await waitFor(() => sub.got[0], 'the first event');
    expect(first.data).toEqual({ reload: true });
    sub.stop();
    await waitFor(() => listeners() === 0, 'the stream to end');
    expect(sub.got).toHaveLength(1);
  });
});

describe('a stream ends within 5 s once its credentials no longer authorize it', () => {
  async function opened(u: { accessToken: string; id: number }, input: { all?: boolean } = {}) {
    const before = listeners();
    const sub = collect(u, input);
    await waitFor(() => listeners() === before + 1, 'the stream to listen');
    return sub;
  }

  test('after user.regenerateAccessToken', async () => {
    const u = createTestUser(srv.db);
    const sub = await opened(u);
    await trpcMutation(u.headers, 'user.regenerateAccessToken');
    const err = await endsWithin5s(sub, 'the stream to end after the token changed');
    expect(err.message).toBe('Unauthorized, invalid access token');
    await waitFor(() => listeners() === 0, 'the server to let go');
    sub.stop();
  });

  test('after a ban', async () => {
    const u = createTestUser(srv.db);
    const sub = await opened(u);
    await trpcMutation(ROOT_HEADERS, 'admin.user.update', { id: u.id, status: 2 });
    const err = await endsWithin5s(sub, 'the stream to end after the ban');
    expect(err.message).toBe('User has been banned');
    await waitFor(() => listeners() === 0, 'the server to let go');
    sub.stop();
  });

  test("an admin's { all: true } stream ends when the role goes; their own stream stays", async () => {
    const admin: TestUser = createTestUser(srv.db, { role: 10 });
    const everyone = await opened(admin, { all: true });
    const own = await opened(admin);
    await trpcMutation(ROOT_HEADERS, 'admin.user.update', { id: admin.id, role: 1 });
    const err = await endsWithin5s(everyone, 'the all-tasks stream to end after the demotion');
    expect(err.message).toBe('Unauthorized, insufficient privileges');
    await waitFor(() => listeners() === 1, 'the all-tasks stream to be let go');
    // The stream of their own tasks still delivers.
    const task = insertTask(srv.db, { userId: admin.id, mjId: `own-${admin.id}` });
    srv.deps.taskFeed.publish([task.id]);
    await waitFor(() => own.got.some((e) => e.data.mj_id === `own-${admin.id}`), 'their own change');
    expect(own.errors).toEqual([]);
    own.stop();
    everyone.stop();
    await waitFor(() => listeners() === 0, 'every stream closed');
  });
});
