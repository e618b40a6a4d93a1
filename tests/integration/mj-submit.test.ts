import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { createTRPCClient, TRPCClientError } from '@trpc/client';
import { typedSubmitSchema } from '../../src/domain/relay/typed-submit.ts';
import { createPoller, type Poller } from '../../src/jobs/poller.ts';
import { ManualClock } from '../../src/lib/clock.ts';
import { type Simulator, startSimulator } from '../../src/simulator/index.ts';
import type { AppRouter } from '../../src/trpc/routers/index.ts';
import { gatewayLinks } from '../../src/web/links.ts';
import { createTestApiKey, createTestChannel, createTestUser, getTask, getUserQuota } from '../helpers/factories.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

/** tRPC `mj.submit`: the relay's submit flow as a typed mutation (SPEC §14). */

const SECRET = 'typed-secret';
const IMAGINE_QUOTA = 50_000;
let srv: TestServer;
let sim: Simulator;
let poller: Poller;
const simClock = new ManualClock();

function clientOf(u: { accessToken: string; id: number }) {
  return createTRPCClient<AppRouter>({ links: gatewayLinks({ url: srv.url, token: u.accessToken, userId: u.id }) });
}

async function errorOf(p: Promise<unknown>): Promise<TRPCClientError<AppRouter>> {
  try {
    await p;
  } catch (err) {
    if (err instanceof TRPCClientError) return err as TRPCClientError<AppRouter>;
    throw err;
  }
  throw new Error('expected the call to fail');
}

async function finish(): Promise<void> {
  for (let i = 0; i < 12; i++) {
    simClock.advance(1000);
    await poller.runOnce();
  }
}

beforeAll(async () => {
  srv = await startTestServer();
  sim = await startSimulator({ secret: SECRET, clock: simClock, stepMs: 1000 });
  createTestChannel(srv.db, sim.url, { key: SECRET });
  poller = createPoller(srv.deps);
});

afterAll(async () => {
  await poller.stop();
  await sim.stop();
  await srv.stop();
});

describe('mj.submit input schema', () => {
  const valid = [
    { action: 'IMAGINE', prompt: 'a cat', base64Array: ['data:image/png;base64,AAAA'] },
    { action: 'ACTION', task_id: '1', custom_id: 'MJ::JOB::upsample::1::abc' },
    { action: 'CHANGE', task_id: '1', change: 'UPSCALE', index: 2 },
    { action: 'SIMPLE_CHANGE', content: '1 U2' },
    { action: 'DESCRIBE', link: 'https://example.com/a.png' },
    { action: 'BLEND', base64Array: ['a', 'b'], dimensions: 'SQUARE' },
    { action: 'MODAL', task_id: '1', prompt: 'more' },
    { action: 'SHORTEN', prompt: 'a long prompt' },
    { action: 'VIDEO', prompt: 'move', task_id: '1' },
    { action: 'EDITS', prompt: 'edit', image: 'data:image/png;base64,AAAA' },
    { action: 'UPLOAD', base64Array: ['a'] },
    {
      action: 'SWAP_FACE',
      sourceUrl: 'https://example.com/s.png',
      targetUrl: 'https://example.com/t.png',
      token_id: 3,
    },
  ];
  const invalid = [
    { action: 'IMAGINE', prompt: '  ' },
    { action: 'IMAGINE', prompt: 'x'.repeat(8193) },
    { action: 'ACTION', task_id: '1' },
    { action: 'CHANGE', task_id: '1', change: 'ZOOM' },
    { action: 'SIMPLE_CHANGE' },
    { action: 'BLEND', base64Array: 'a' },
    { action: 'MODAL' },
    { action: 'SHORTEN' },
    { action: 'VIDEO', task_id: '1' },
    { action: 'EDITS', prompt: 'edit' },
    { action: 'UPLOAD', base64Array: [1] },
    { action: 'SWAP_FACE', sourceUrl: 5 },
    { action: 'NOPE', prompt: 'a cat' },
    { action: 'IMAGINE', prompt: 'a cat', token_id: -1 },
  ];
  test('every §7.1 kind has a typed shape', () => {
    expect(new Set(valid.map((v) => v.action)).size).toBe(12);
    for (const v of valid) expect({ v, ok: typedSubmitSchema.safeParse(v).success }).toEqual({ v, ok: true });
  });
  test('bad shapes are refused before anything runs', () => {
    for (const v of invalid) expect({ v, ok: typedSubmitSchema.safeParse(v).success }).toEqual({ v, ok: false });
  });
});

describe('mj.submit end to end', () => {
  test('IMAGINE is charged, recorded and finished; U1 on its result (ACTION) finishes too', async () => {
    const user = createTestUser(srv.db, { quota: 1_000_000 });
    createTestApiKey(srv.db, user.id);
    const client = clientOf(user);
    const task = await client.mj.submit.mutate({ action: 'IMAGINE', prompt: 'a typed cat' });
    expect(task.mj_id).toMatch(/^\d{16}$/);
    expect(task.action).toBe('IMAGINE');
    expect(task.quota).toBe(IMAGINE_QUOTA);
    expect(task).not.toHaveProperty('user_id');
    expect(getUserQuota(srv.db, user.id)).toBe(1_000_000 - IMAGINE_QUOTA);
    expect(await client.mj.get.query({ mj_id: task.mj_id })).toEqual(task);

    await finish();
    const done = await client.mj.get.query({ mj_id: task.mj_id });
    expect(done.status).toBe('SUCCESS');
    // Typed outputs carry buttons and properties parsed (SPEC §10), not as JSON text.
    const u1 = done.buttons.find((b) => b.label === 'U1');
    expect(Object.keys(u1 ?? {}).sort()).toEqual(['customId', 'emoji', 'label', 'style', 'type']);
    expect(u1?.customId).toContain('upsample');
    expect(typeof u1?.type).toBe('number');
    expect(typeof done.properties.messageHash).toBe('string');

    const up = await client.mj.submit.mutate({ action: 'ACTION', task_id: task.mj_id, custom_id: u1!.customId });
    expect(up.action).toBe('UPSCALE');
    expect(up.prompt).toBe('a typed cat');
    await finish();
    const upDone = await client.mj.get.query({ mj_id: up.mj_id });
    expect(upDone.status).toBe('SUCCESS');
    expect(upDone.progress).toBe('100%');
  });

  test('a caller without a usable API key gets BAD_REQUEST no_api_key, and nothing is charged', async () => {
    const user = createTestUser(srv.db, { quota: 1_000_000 });
    createTestApiKey(srv.db, user.id, { status: 2 });
    const err = await errorOf(clientOf(user).mj.submit.mutate({ action: 'IMAGINE', prompt: 'no key' }));
    expect(err.data?.code).toBe('BAD_REQUEST');
    expect(err.message).toBe('no_api_key');
    expect(getUserQuota(srv.db, user.id)).toBe(1_000_000);
  });

  test("token_id must be the caller's own key; the named key is the one billed", async () => {
    const user = createTestUser(srv.db, { quota: 1_000_000 });
    const other = createTestUser(srv.db, { quota: 1_000_000 });
    const foreign = createTestApiKey(srv.db, other.id);
    const older = createTestApiKey(srv.db, user.id, { unlimited: false, remainQuota: 200_000 });
    createTestApiKey(srv.db, user.id);
    const err = await errorOf(
      clientOf(user).mj.submit.mutate({ action: 'IMAGINE', prompt: 'x', token_id: foreign.id }),
    );
    expect(err.data?.code).toBe('NOT_FOUND');
    const task = await clientOf(user).mj.submit.mutate({
      action: 'IMAGINE',
      prompt: 'billed to the older key',
      token_id: older.id,
    });
    expect(getTask(srv.db, task.id)?.tokenId).toBe(older.id);
  });

  test('local refusals keep their relay messages: quota_not_enough, task_not_found', async () => {
    const poor = createTestUser(srv.db, { quota: 10 });
    createTestApiKey(srv.db, poor.id);
    const quota = await errorOf(clientOf(poor).mj.submit.mutate({ action: 'IMAGINE', prompt: 'too dear' }));
    expect([quota.data?.code, quota.message]).toEqual(['BAD_REQUEST', 'quota_not_enough']);
    const missing = await errorOf(
      clientOf(poor).mj.submit.mutate({ action: 'ACTION', task_id: '42', custom_id: 'MJ::JOB::upsample::1::x' }),
    );
    expect([missing.data?.code, missing.message]).toEqual(['NOT_FOUND', 'task_not_found']);
  });

  test("rules across fields refuse with the relay's messages, before anything is charged", async () => {
    const user = createTestUser(srv.db, { quota: 1_000_000 });
    createTestApiKey(srv.db, user.id);
    const client = clientOf(user);
    const cases = [
      [{ action: 'DESCRIBE' }, 'base64 or link is required'],
      [{ action: 'DESCRIBE', base64: '  ', link: null }, 'base64 or link is required'],
      [{ action: 'CHANGE', task_id: '1', change: 'UPSCALE' }, 'index is required for UPSCALE and VARIATION'],
      [{ action: 'SWAP_FACE' }, 'sourceBase64 (or sourceUrl) is required'],
      [{ action: 'SWAP_FACE', sourceUrl: 'https://example.com/s.png' }, 'targetBase64 (or targetUrl) is required'],
    ] as const;
    for (const [input, message] of cases) {
      const err = await errorOf(client.mj.submit.mutate(input));
      expect({ input, code: err.data?.code, message: err.message }).toEqual({ input, code: 'BAD_REQUEST', message });
    }
    expect(getUserQuota(srv.db, user.id)).toBe(1_000_000);
  });

  test('an upstream refusal is an error carrying the upstream description; the task is failed and refunded', async () => {
    const user = createTestUser(srv.db, { quota: 1_000_000 });
    createTestApiKey(srv.db, user.id);
    const err = await errorOf(clientOf(user).mj.submit.mutate({ action: 'IMAGINE', prompt: 'bad words --sim-banned' }));
    expect(err.data?.code).toBe('BAD_REQUEST');
    expect(err.message).toBe('May contain sensitive words');
    expect(getUserQuota(srv.db, user.id)).toBe(1_000_000);
    const page = await clientOf(user).mj.self.query({});
    expect(page.items[0]?.status).toBe('FAILURE');
    expect(page.items[0]?.fail_reason).toBe('May contain sensitive words');
  });
});
