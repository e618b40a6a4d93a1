import { afterAll, afterEach, beforeAll, describe, expect, test } from 'bun:test';
import { ANSWER_BYTES, limitsOf, listingSemaphoreOf } from '../../src/domain/answer-limits.ts';
import { createTestApiKey, createTestUser, type TestUser } from '../helpers/factories.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

/**
 * SPEC §10, "one user cannot slow the others": no answer carries more than 8 MiB of task data (a
 * tRPC batch is one answer, list-by-condition too), at most 4 listings of one user in flight.
 * The rows are what a common user can make for free (issue 14): prompts of U+0001, whose JSON
 * encoding is 6 bytes a character, so every listing item reaches its 48 KiB bound.
 */

const BIG_ROWS = 200;
let srv: TestServer;
let heavy: TestUser;
let other: TestUser;
let heavyKey: Record<string, string>;
const mjIds: string[] = [];

beforeAll(async () => {
  srv = await startTestServer({ env: { MJ_FORWARD_URL_ENABLED: 'false' } });
  heavy = createTestUser(srv.db);
  other = createTestUser(srv.db);
  heavyKey = createTestApiKey(srv.db, heavy.id).headers;
  const prompt = '\u0001'.repeat(8179);
  const properties = JSON.stringify({ finalPrompt: prompt });
  const c = srv.db.$client;
  const insert =
    c.prepare(`INSERT INTO tasks (user_id, mj_id, action, prompt, prompt_en, properties, submit_time, status, progress)
    VALUES (?, ?, 'IMAGINE', ?, ?, ?, ?, 'FAILURE', '0%')`);
  c.transaction(() => {
    for (let i = 0; i < BIG_ROWS; i++) {
      const mjId = `big-${i}`;
      mjIds.push(mjId);
      insert.run(heavy.id, mjId, prompt, prompt, properties, Date.now() - i);
    }
  })();
  c.prepare(
    `INSERT INTO tasks (user_id, mj_id, action, prompt, submit_time, status, progress) VALUES (?, 'small', 'IMAGINE', 'a cat', ?, 'SUCCESS', '100%')`,
  ).run(other.id, Date.now());
  limitsOf(srv.deps.taskStore).answerBytesPerSecond = UNMETERED;
});

/** The other cases ask for many large answers in a row: the per-second rate is tested on its own. */
const UNMETERED = Number.MAX_SAFE_INTEGER;

afterEach(() => {
  const limits = limitsOf(srv.deps.taskStore);
  limits.answerBytes = ANSWER_BYTES;
  limits.listingWaitMs = 5_000;
  limits.answerBytesPerSecond = UNMETERED;
  limits.answerBurstBytes = ANSWER_BYTES;
  limits.answerFreeBytes = 256 * 1024;
});

afterAll(async () => {
  await srv.stop();
});

function batchUrl(calls: number, input: Record<string, unknown>): string {
  const inputs = Object.fromEntries(Array.from({ length: calls }, (_, i) => [String(i), input]));
  return `${srv.url}/trpc/${Array(calls).fill('mj.self').join(',')}?batch=1&input=${encodeURIComponent(JSON.stringify(inputs))}`;
}

type TrpcError = { error: { message: string; code: number; data: { code: string; httpStatus: number } } };

describe('one answer carries at most 8 MiB of task data', () => {
  test('a tRPC batch of 16 full pages of 48 KiB items is one 413 PAYLOAD_TOO_LARGE, in tRPC shape', async () => {
    const res = await fetch(batchUrl(16, { page_size: 100 }), { headers: heavy.headers });
    expect(res.status).toBe(413);
    const body = (await res.json()) as TrpcError[];
    expect(body).toHaveLength(16);
    for (const e of body) {
      expect(e.error.data.code).toBe('PAYLOAD_TOO_LARGE');
      expect(e.error.data.httpStatus).toBe(413);
      expect(e.error.code).toBe(-32013);
    }
  }, 30_000);

  test('a batch within the budget still answers every call', async () => {
    const res = await fetch(batchUrl(16, { page_size: 10 }), { headers: heavy.headers });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Array<{ result: { data: { items: unknown[]; total: number } } }>;
    expect(body).toHaveLength(16);
    for (const r of body) expect(r.result.data.items).toHaveLength(10);
    expect(Buffer.byteLength(JSON.stringify(body))).toBeGreaterThan(16 * 10 * 40_000);
  }, 30_000);

  test('list-by-condition over the budget is a 413 in the relay shape', async () => {
    const res = await fetch(`${srv.url}/mj/task/list-by-condition`, {
      method: 'POST',
      headers: { ...heavyKey, 'content-type': 'application/json' },
      body: JSON.stringify({ ids: mjIds }),
    });
    expect(res.status).toBe(413);
    const body = (await res.json()) as { code: number; description: string; result: unknown };
    expect(body.code).toBe(4);
    expect(body.description).toContain('too large');
    // Fewer ids fit.
    const some = await fetch(`${srv.url}/mj/task/list-by-condition`, {
      method: 'POST',
      headers: { ...heavyKey, 'content-type': 'application/json' },
      body: JSON.stringify({ ids: mjIds.slice(0, 20) }),
    });
    expect(some.status).toBe(200);
    expect((await some.json()) as unknown[]).toHaveLength(20);
  }, 30_000);

  test('a REST listing over the budget is a 413 in the REST shape', async () => {
    // One REST page (at most 100 items of 48 KiB) cannot reach 8 MiB: the budget is lowered to 1 MiB.
    limitsOf(srv.deps.taskStore).answerBytes = 1024 * 1024;
    const res = await fetch(`${srv.url}/api/mj/self?page_size=100`, { headers: heavy.headers });
    expect(res.status).toBe(413);
    const body = (await res.json()) as { success: boolean; message: string };
    expect(body.success).toBe(false);
    expect(body.message).toContain('too large');
    const small = await fetch(`${srv.url}/api/mj/self?page_size=5`, { headers: heavy.headers });
    expect(small.status).toBe(200);
  }, 30_000);
});

describe('at most 4 listings of one user in flight', () => {
  test('a 5th waits, then gets 429 too_many_requests on every surface; another user is not affected', async () => {
    limitsOf(srv.deps.taskStore).listingWaitMs = 300;
    const semaphore = listingSemaphoreOf(srv.deps.taskStore);
    const held = await Promise.all(Array.from({ length: 4 }, () => semaphore.acquire(heavy.id)));
    try {
      const rest = await fetch(`${srv.url}/api/mj/self?page_size=1`, { headers: heavy.headers });
      expect(rest.status).toBe(429);
      expect(((await rest.json()) as { message: string }).message).toBe('too_many_requests');

      const trpc = await fetch(
        `${srv.url}/trpc/mj.self?input=${encodeURIComponent(JSON.stringify({ page_size: 1 }))}`,
        { headers: heavy.headers },
      );
      expect(trpc.status).toBe(429);
      expect(((await trpc.json()) as TrpcError).error.data.code).toBe('TOO_MANY_REQUESTS');

      const relay = await fetch(`${srv.url}/mj/task/list-by-condition`, {
        method: 'POST',
        headers: { ...heavyKey, 'content-type': 'application/json' },
        body: JSON.stringify({ ids: ['big-1'] }),
      });
      expect(relay.status).toBe(429);
      expect(((await relay.json()) as { description: string }).description).toBe('too_many_requests');

      const others = await fetch(`${srv.url}/api/mj/self?page_size=1`, { headers: other.headers });
      expect(others.status).toBe(200);

      // A place freed while one waits is taken by it.
      limitsOf(srv.deps.taskStore).listingWaitMs = 5_000;
      const waiting = fetch(`${srv.url}/api/mj/self?page_size=1`, { headers: heavy.headers });
      held.pop()!();
      expect((await waiting).status).toBe(200);
    } finally {
      for (const release of held) release();
    }
    expect(semaphore.size).toBe(0);
  }, 30_000);
});

describe('answer bytes per user per second', () => {
  test('back-to-back large answers: past the burst the next waits out the wait, then is 429; another user is served', async () => {
    const limits = limitsOf(srv.deps.taskStore);
    limits.answerBurstBytes = 1024 * 1024;
    limits.answerBytesPerSecond = 100_000;
    limits.answerFreeBytes = 0;
    limits.listingWaitMs = 200;
    const page = (u: TestUser) => fetch(`${srv.url}/api/mj/self?page_size=40`, { headers: u.headers });
    // ~1.9 MiB: within the in-flight limit and the 8 MiB answer, past a 1 MiB burst at once.
    const first = await page(heavy);
    expect(first.status).toBe(200);
    const second = await page(heavy);
    expect(second.status).toBe(429);
    expect(((await second.json()) as { message: string }).message).toBe('too_many_requests');
    expect((await page(other)).status).toBe(200);
    const relay = await fetch(`${srv.url}/mj/task/list-by-condition`, {
      method: 'POST',
      headers: { ...heavyKey, 'content-type': 'application/json' },
      body: JSON.stringify({ ids: ['big-1'] }),
    });
    expect(relay.status).toBe(429);
  }, 30_000);

  test('a refusal is charged what it asked: a 413 is no free way to keep the server busy', async () => {
    const limits = limitsOf(srv.deps.taskStore);
    limits.answerBytesPerSecond = 100_000;
    limits.listingWaitMs = 200;
    const refuser = createTestUser(srv.db);
    const key = createTestApiKey(srv.db, refuser.id).headers;
    srv.db.$client
      .prepare(
        `UPDATE tasks SET user_id = ? WHERE mj_id IN (${mjIds
          .slice(0, 190)
          .map(() => '?')
          .join(',')})`,
      )
      .run(refuser.id, ...mjIds.slice(0, 190));
    try {
      const ask = (ids: string[]) =>
        fetch(`${srv.url}/mj/task/list-by-condition`, {
          method: 'POST',
          headers: { ...key, 'content-type': 'application/json' },
          body: JSON.stringify({ ids }),
        });
      expect((await ask(mjIds.slice(0, 190))).status).toBe(413);
      // Nothing was sent, but ~9 MiB was asked: far past the burst, so the next waits, then 429.
      expect((await ask(mjIds.slice(0, 1))).status).toBe(429);
    } finally {
      srv.db.$client.prepare('UPDATE tasks SET user_id = ? WHERE user_id = ?').run(heavy.id, refuser.id);
    }
  }, 30_000);

  test('a batch whose first listing is refused for the rate refuses the rest at once (not 16 waits in a row)', async () => {
    const limits = limitsOf(srv.deps.taskStore);
    limits.answerBytesPerSecond = 1;
    limits.answerBurstBytes = 1;
    limits.answerFreeBytes = 0;
    limits.listingWaitMs = 1_500;
    const u = createTestUser(srv.db);
    srv.db.$client
      .prepare(
        `INSERT INTO tasks (user_id, mj_id, action, prompt, submit_time, status, progress) VALUES (?, 'r-1', 'IMAGINE', 'a cat', ?, 'SUCCESS', '100%')`,
      )
      .run(u.id, Date.now());
    expect((await fetch(`${srv.url}/api/mj/self`, { headers: u.headers })).status).toBe(200);
    // In debt now; 16 waits of 1.5 s in a row would pass this test's 10 s deadline.
    const res = await fetch(batchUrl(16, { page_size: 1 }), { headers: u.headers });
    expect(res.status).toBe(429);
    const body = (await res.json()) as TrpcError[];
    expect(body).toHaveLength(16);
    expect(new Set(body.map((e) => e.error.data.code))).toEqual(new Set(['TOO_MANY_REQUESTS']));
  }, 10_000);
});
