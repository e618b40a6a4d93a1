import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { eq } from 'drizzle-orm';
import { tasks } from '../../src/db/schema/index.ts';
import { MAX_JSON_CHARS, MAX_TEXT_CHARS } from '../../src/domain/bounds.ts';
import { MAX_IMAGE_CHARS } from '../../src/domain/relay/schemas.ts';
import { createTestApiKey, createTestChannel, createTestUser } from '../helpers/factories.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

/**
 * SPEC §10 at the relay: what a client sends is bounded per field (400 naming it, nothing
 * charged), and what the upstream answers is cut before it is stored.
 */

let srv: TestServer;
let upstream: ReturnType<typeof Bun.serve>;
/** The next answer of the fake upstream (a real HTTP server). */
let answer: unknown = { code: 1, description: 'Submit success', result: '1790000000000001', properties: {} };
let forwarded = 0;
let userId: number;
let headers: Record<string, string>;

beforeAll(async () => {
  upstream = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    fetch: async (req) => {
      await req.arrayBuffer();
      forwarded++;
      return Response.json(answer);
    },
  });
  srv = await startTestServer();
  createTestChannel(srv.db, `http://127.0.0.1:${upstream.port}`, { key: 'k' });
  const user = createTestUser(srv.db, { quota: 100_000_000 });
  userId = user.id;
  headers = { ...createTestApiKey(srv.db, user.id).headers, 'content-type': 'application/json' };
});
afterAll(async () => {
  await srv.stop();
  await upstream.stop(true);
});

async function submit(path: string, body: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${srv.url}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}

const img = (chars: number) => 'A'.repeat(chars);

describe('client fields are bounded (400 naming the field, nothing forwarded)', () => {
  const refused: [string, string, unknown, string][] = [
    [
      'prompt over 8192',
      '/mj/submit/imagine',
      { prompt: 'p'.repeat(MAX_TEXT_CHARS + 1) },
      'prompt is longer than 8192 characters',
    ],
    [
      'video prompt over 8192',
      '/mj/submit/video',
      { prompt: 'p'.repeat(MAX_TEXT_CHARS + 1) },
      'prompt is longer than 8192 characters',
    ],
    [
      'modal prompt over 8192',
      '/mj/submit/modal',
      { taskId: '1', prompt: 'p'.repeat(MAX_TEXT_CHARS + 1) },
      'prompt is longer than 8192 characters',
    ],
    [
      'state over 8192',
      '/mj/submit/imagine',
      { prompt: 'cat', state: 's'.repeat(MAX_TEXT_CHARS + 1) },
      'state is longer than 8192 characters',
    ],
    [
      'notifyHook over 2048',
      '/mj/submit/imagine',
      { prompt: 'cat', notifyHook: `https://h/${'a'.repeat(2048)}` },
      'notifyHook is longer than 2048 characters',
    ],
    [
      'accountFilter over 4 KiB',
      '/mj/submit/imagine',
      { prompt: 'cat', accountFilter: { remark: 'r'.repeat(5000) } },
      'accountFilter is larger than 4096 characters of JSON',
    ],
    [
      '6 reference images',
      '/mj/submit/imagine',
      { prompt: 'cat', base64Array: Array(6).fill('data:image/png;base64,AAAA') },
      'base64Array may hold at most 5 images',
    ],
    [
      '6 blend images',
      '/mj/submit/blend',
      { base64Array: Array(6).fill('data:image/png;base64,AAAA') },
      'base64Array may hold at most 5 images',
    ],
    [
      '11 uploads',
      '/mj/submit/upload-discord-images',
      { base64Array: Array(11).fill('AAAA') },
      'base64Array may hold at most 10 images',
    ],
    [
      'describe image over 8 MiB',
      '/mj/submit/describe',
      { base64: img(MAX_IMAGE_CHARS + 1) },
      `base64 is longer than ${MAX_IMAGE_CHARS} characters`,
    ],
    [
      'blend image over 8 MiB',
      '/mj/submit/blend',
      { base64Array: [img(MAX_IMAGE_CHARS + 1), 'AAAA'] },
      `base64Array holds an image longer than ${MAX_IMAGE_CHARS} characters`,
    ],
    [
      'swap target over 8 MiB',
      '/mj/insight-face/swap',
      { sourceBase64: 'AAAA', targetBase64: img(MAX_IMAGE_CHARS + 1) },
      `targetBase64 is longer than ${MAX_IMAGE_CHARS} characters`,
    ],
    [
      'edits image over 8 MiB',
      '/mj/submit/edits',
      { prompt: 'cat', image: img(MAX_IMAGE_CHARS + 1) },
      `image is longer than ${MAX_IMAGE_CHARS} characters`,
    ],
    [
      'modal mask over 8 MiB',
      '/mj/submit/modal',
      { taskId: '1', maskBase64: img(MAX_IMAGE_CHARS + 1) },
      `maskBase64 is longer than ${MAX_IMAGE_CHARS} characters`,
    ],
    [
      'describe link over 2048',
      '/mj/submit/describe',
      { link: `https://x/${'a'.repeat(2048)}` },
      'link is longer than 2048 characters',
    ],
  ];
  for (const [what, path, body, description] of refused) {
    test(what, async () => {
      const before = forwarded;
      const res = await submit(path, body);
      expect(res).toEqual({ status: 400, json: { code: 4, description, result: null, properties: {} } });
      expect(forwarded).toBe(before);
    });
  }

  test('list-by-condition ids are bounded in length too', async () => {
    const res = await submit('/mj/task/list-by-condition', { ids: ['1'.repeat(129)] });
    expect(res).toEqual({
      status: 400,
      json: { code: 4, description: 'ids must hold ids of at most 128 characters', result: null, properties: {} },
    });
  });

  test('a prompt of exactly 8192 characters and an 8 MiB image are accepted', async () => {
    answer = { code: 1, description: 'Submit success', result: '1790000000000002', properties: {} };
    const res = await submit('/mj/submit/imagine', {
      prompt: 'p'.repeat(MAX_TEXT_CHARS),
      base64Array: [img(MAX_IMAGE_CHARS)],
    });
    expect(res.status).toBe(200);
    expect(res.json.code).toBe(1);
  });
});

describe('what the upstream answers is cut before it is stored', () => {
  const row = (mjId: string) => srv.db.select().from(tasks).where(eq(tasks.mjId, mjId)).get()!;

  test('accepted: description cut to 8192, oversize properties dropped (not cut into broken JSON)', async () => {
    answer = {
      code: 1,
      description: 'd'.repeat(1_000_000),
      result: '1790000000000003',
      properties: { finalPrompt: 'f'.repeat(MAX_JSON_CHARS) },
    };
    expect((await submit('/mj/submit/imagine', { prompt: 'cat' })).status).toBe(200);
    const t = row('1790000000000003');
    expect(t.description).toBe('d'.repeat(MAX_TEXT_CHARS));
    expect(t.properties).toBe('');
  });

  test('code 21 "exists" with SUCCESS: an oversize image URL is dropped, fitting properties kept whole', async () => {
    const props = { status: 'SUCCESS', imageUrl: `https://cdn/${'i'.repeat(3000)}` };
    answer = { code: 21, description: 'exists', result: '1790000000000004', properties: props };
    expect((await submit('/mj/submit/imagine', { prompt: 'cat' })).status).toBe(200);
    const t = row('1790000000000004');
    expect(t.imageUrl).toBe('');
    expect(JSON.parse(t.properties)).toEqual(props);
  });

  test('refused: the upstream description is cut, an absurd result id is not stored whole', async () => {
    answer = { code: 24, description: 'b'.repeat(100_000), result: '9'.repeat(100_000), properties: {} };
    const before = srv.db.select().from(tasks).where(eq(tasks.userId, userId)).all().length;
    expect((await submit('/mj/submit/imagine', { prompt: 'cat' })).status).toBe(200);
    const all = srv.db.select().from(tasks).where(eq(tasks.userId, userId)).all();
    expect(all).toHaveLength(before + 1);
    const t = all.at(-1)!;
    expect(t.status).toBe('FAILURE');
    expect(t.description).toHaveLength(MAX_TEXT_CHARS);
    expect(t.mjId.length).toBeLessThanOrEqual(128);
    expect(t.quota).toBe(0);
  });

  test('accepted with a result id longer than any real one: failed and refunded', async () => {
    answer = { code: 1, description: 'ok', result: '7'.repeat(129), properties: {} };
    const res = await submit('/mj/submit/imagine', { prompt: 'cat' });
    expect(res.status).toBe(502);
    expect(res.json.description).toBe('unmarshal_response_body_failed');
  });
});
