import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import sharp from 'sharp';
import { ManualClock } from '../../src/lib/clock.ts';
import { type Simulator, startSimulator } from '../../src/simulator/index.ts';
import { addChannel, addTask, addUser } from '../helpers/rows.ts';
import { ROOT_HEADERS, startTestServer, type TestServer } from '../helpers/server.ts';
import { finishedImageUrl, submitToSimulator } from '../helpers/simulator.ts';

/**
 * Renditions (SPEC §18) through the real route: `?w=` WebP widths, `?part=` quadrants, the §9
 * caching headers, ETag and Range on them, 400s naming the parameter, one making per rendition
 * however many ask at once (counted by the gateway's own metric), and §9's answer where there is
 * nothing to render (an unfinished task, a video, bytes that do not decode).
 */

const SECRET = 'rendition-secret';
/** A 512² grid: big enough for every bucket below 1024, small enough to draw at once. */
const SIZE = 512;
const clock = new ManualClock(1_790_000_000_000);
let sim: Simulator;
let server: TestServer;
let other: ReturnType<typeof Bun.serve>;
let deadUrl: string;
const MP4 = new Uint8Array([0, 0, 0, 16, 0x66, 0x74, 0x79, 0x70, 0x69, 0x73, 0x6f, 0x6d, 0, 0, 2, 0]);

const image = (id: string, query = '', init?: RequestInit) => fetch(`${server.url}/mj/image/${id}${query}`, init);

async function renditionsMade(outcome: 'made' | 'failed' = 'made'): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`, { headers: ROOT_HEADERS })).text();
  const m = new RegExp(`^mjgw_image_renditions_total\\{outcome="${outcome}"\\} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

async function taskWith(imageUrl: string, status = 'SUCCESS'): Promise<string> {
  const user = await addUser(server.handle);
  const progress = status === 'SUCCESS' ? '100%' : '46%';
  return (await addTask(server.handle, { userId: user.id, imageUrl, status, progress })).mjId;
}

const finalImageUrl = (prompt: string) => finishedImageUrl(sim, SECRET, clock, prompt);

async function finishedTask(prompt: string): Promise<string> {
  return taskWith(await finalImageUrl(prompt));
}

async function webp(res: Response): Promise<{ bytes: Uint8Array; width: number; height: number }> {
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('image/webp');
  const bytes = new Uint8Array(await res.arrayBuffer());
  const meta = await sharp(bytes).metadata();
  expect(meta.format).toBe('webp');
  return { bytes, width: meta.width ?? 0, height: meta.height ?? 0 };
}

/** Mean colour of a picture (three channel means). */
async function meanOf(bytes: Uint8Array): Promise<number[]> {
  const stats = await sharp(bytes).stats();
  return stats.channels.slice(0, 3).map((c) => Math.round(c.mean));
}

beforeAll(async () => {
  sim = await startSimulator({ secret: SECRET, clock, stepMs: 1000, imageSize: SIZE });
  other = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    fetch: (req) => {
      const path = new URL(req.url).pathname;
      if (path === '/clip.mp4') return new Response(MP4, { headers: { 'content-type': 'video/mp4' } });
      if (path === '/broken.png') return new Response('not a png at all', { headers: { 'content-type': 'image/png' } });
      return new Response('gone', { status: 410 });
    },
  });
  const closed = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response('') });
  deadUrl = `http://127.0.0.1:${closed.port}`;
  await closed.stop(true);
  server = await startTestServer({ clock });
  await addChannel(server.handle, sim.url, { key: SECRET });
  await addChannel(server.handle, `http://127.0.0.1:${other.port}`);
  await addChannel(server.handle, deadUrl);
});

afterAll(async () => {
  await server.stop();
  await sim.stop();
  await other.stop(true);
});

describe('renditions', () => {
  test('?w= is a WebP snapped up to 128/256/512/1024, never wider than the original, with the §9 caching headers', async () => {
    const mjId = await finishedTask('a lighthouse at dusk');
    for (const [w, width] of [
      [64, 128],
      [128, 128],
      [129, 256],
      [300, 512],
      [1024, SIZE],
    ] as const) {
      const res = await image(mjId, `?w=${w}`);
      const got = await webp(res);
      expect([w, got.width, got.height]).toEqual([w, width, width]);
      expect(res.headers.get('cache-control')).toBe('public, max-age=86400, immutable');
      expect(res.headers.get('content-length')).toBe(String(got.bytes.byteLength));
      expect(res.headers.get('etag')).toMatch(/^"r[0-9a-f]+-[0-9a-f]+"$/);
      expect(res.headers.get('accept-ranges')).toBe('bytes');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('x-request-id')).toMatch(/^\w{12}$/);
    }
  });

  test('?part=1..4 are the four quadrants (half the width and height each, distinct), combinable with w', async () => {
    const mjId = await finishedTask('four different rooms');
    const means: string[] = [];
    for (const part of [1, 2, 3, 4]) {
      const whole = await webp(await image(mjId, `?part=${part}`));
      expect([whole.width, whole.height]).toEqual([SIZE / 2, SIZE / 2]);
      means.push(JSON.stringify(await meanOf(whole.bytes)));
      const small = await webp(await image(mjId, `?part=${part}&w=128`));
      expect([small.width, small.height]).toEqual([128, 128]);
    }
    expect(new Set(means).size).toBe(4);
    // Quadrant 4 is the bottom-right of the original, as sharp cuts it from the PNG itself.
    const original = new Uint8Array(await (await image(mjId)).arrayBuffer());
    const cut = await sharp(original)
      .extract({ left: SIZE / 2, top: SIZE / 2, width: SIZE / 2, height: SIZE / 2 })
      .png()
      .toBuffer();
    const served = await webp(await image(mjId, '?part=4'));
    const [a, b] = [await meanOf(cut), await meanOf(served.bytes)];
    for (let i = 0; i < 3; i++) expect(Math.abs((a[i] ?? 0) - (b[i] ?? 0))).toBeLessThanOrEqual(3);
  });

  test('an invalid w or part is a 400 naming the parameter', async () => {
    const mjId = await finishedTask('a stern validator');
    const cases: Array<[string, string]> = [
      ['?w=63', 'invalid_w'],
      ['?w=1025', 'invalid_w'],
      ['?w=abc', 'invalid_w'],
      ['?w=', 'invalid_w'],
      ['?w=12.5', 'invalid_w'],
      ['?w=128&w=256', 'invalid_w'],
      ['?part=0', 'invalid_part'],
      ['?part=5', 'invalid_part'],
      ['?part=one', 'invalid_part'],
      ['?part=1&w=2000', 'invalid_w'],
    ];
    for (const [query, error] of cases) {
      const res = await image(mjId, query);
      const body = (await res.json()) as { error: string; message: string };
      expect([query, res.status, body.error]).toEqual([query, 400, error]);
      expect(body.message).toContain(error === 'invalid_w' ? 'w must be' : 'part must be');
      expect(res.headers.get('cache-control')).toBe('no-store');
    }
    // Other query parameters (the dashboard's cache-busting `v`) leave the original as it was.
    expect((await image(mjId, '?v=100%25')).headers.get('content-type')).toBe('image/png');
    expect((await image('1800000000000009999', '?w=128')).status).toBe(404);
    expect((await image(`${mjId}~w128`)).status).toBe(404);
  });

  test('a rendition answers If-None-Match with 304 and Range with 206, and HEAD with its length', async () => {
    const mjId = await finishedTask('a ranged rendition');
    const full = await image(mjId, '?w=256&part=3');
    const { bytes } = await webp(full);
    const etag = full.headers.get('etag') ?? '';
    const revalidated = await image(mjId, '?w=256&part=3', { headers: { 'if-none-match': etag } });
    expect(revalidated.status).toBe(304);
    expect(revalidated.headers.get('etag')).toBe(etag);
    const ranged = await image(mjId, '?w=256&part=3', { headers: { range: 'bytes=10-49' } });
    expect(ranged.status).toBe(206);
    expect(ranged.headers.get('content-range')).toBe(`bytes 10-49/${bytes.byteLength}`);
    expect(Array.from(new Uint8Array(await ranged.arrayBuffer()))).toEqual(Array.from(bytes.subarray(10, 50)));
    const head = await image(mjId, '?w=256&part=3', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(bytes.byteLength));
    expect(head.headers.get('etag')).toBe(etag);
  });

  test('concurrent first requests for one rendition make it once; later ones come from the store', async () => {
    const mjId = await finishedTask('a crowd at the door');
    const before = await renditionsMade();
    const answers = await Promise.all(Array.from({ length: 12 }, () => image(mjId, '?w=256')));
    const bodies = await Promise.all(answers.map((r) => webp(r)));
    expect(new Set(bodies.map((b) => Bun.hash(b.bytes).toString())).size).toBe(1);
    expect(new Set(answers.map((r) => r.headers.get('etag'))).size).toBe(1);
    expect(await renditionsMade()).toBe(before + 1);
    // Five different renditions of one original at once: five makings, one source for all.
    const five = ['?w=128', '?part=1', '?part=2&w=128', '?part=3&w=512', '?part=4'];
    await Promise.all(five.map(async (q) => webp(await image(mjId, q))));
    expect(await renditionsMade()).toBe(before + 6);
    // Kept: the upstream link dying changes nothing, and nothing is made again.
    await server.sql('UPDATE tasks SET image_url = $1 WHERE mj_id = $2', `${deadUrl}/expired.png`, mjId);
    const again = await webp(await image(mjId, '?w=256'));
    expect(Bun.hash(again.bytes).toString()).toBe(Bun.hash(bodies[0]?.bytes ?? new Uint8Array()).toString());
    // A rendition not made yet comes from the stored original.
    expect((await webp(await image(mjId, '?w=1024'))).width).toBe(SIZE);
    expect(await renditionsMade()).toBe(before + 7);
  });

  test('without an image store a rendition is still made (once for concurrent asks) and answered from memory', async () => {
    const storeless = await startTestServer({ clock, env: { IMAGE_CACHE_MAX_MB: '0' } });
    try {
      await addChannel(storeless.handle, sim.url, { key: SECRET });
      const user = await addUser(storeless.handle);
      const { mjId } = await addTask(storeless.handle, {
        userId: user.id,
        imageUrl: await finalImageUrl('a gateway with no folder'),
        status: 'SUCCESS',
        progress: '100%',
      });
      const answers = await Promise.all([1, 2, 3].map(() => fetch(`${storeless.url}/mj/image/${mjId}?w=128&part=4`)));
      const sizes = await Promise.all(answers.map(async (r) => (await webp(r)).width));
      expect(sizes).toEqual([128, 128, 128]);
      expect(answers[0]?.headers.get('cache-control')).toBe('public, max-age=86400, immutable');
    } finally {
      await storeless.stop();
    }
  });

  test('an unfinished task, a video and undecodable bytes are answered as §9 answers the original', async () => {
    const simId = await submitToSimulator(sim, SECRET, 'a task still drawing');
    const unfinished = await taskWith(`${sim.url}/images/${simId}_grid_0.png`, 'IN_PROGRESS');
    const plain = await image(unfinished);
    const asked = await image(unfinished, '?w=128&part=2');
    expect(asked.status).toBe(plain.status);
    expect(asked.headers.get('content-type')).toBe(plain.headers.get('content-type'));
    expect(asked.headers.get('cache-control')).toBe('no-store');
    expect(Bun.hash(new Uint8Array(await asked.arrayBuffer()))).toBe(
      Bun.hash(new Uint8Array(await plain.arrayBuffer())),
    );

    const video = await taskWith(`http://127.0.0.1:${other.port}/clip.mp4`);
    const clip = await image(video, '?w=128');
    expect(clip.status).toBe(200);
    expect(clip.headers.get('content-type')).toBe('video/mp4');
    expect(new Uint8Array(await clip.arrayBuffer())).toEqual(MP4);

    const failedBefore = await renditionsMade('failed');
    const broken = await taskWith(`http://127.0.0.1:${other.port}/broken.png`);
    const res = await image(broken, '?w=128');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    expect(await res.text()).toBe('not a png at all');
    expect(await renditionsMade('failed')).toBe(failedBefore + 1);

    // The upstream's own error and an unreachable upstream: the §9 statuses and codes.
    const gone = await taskWith(`http://127.0.0.1:${other.port}/gone.png`);
    const goneRes = await image(gone, '?w=128');
    expect(goneRes.status).toBe(410);
    expect(((await goneRes.json()) as { error: string }).error).toBe('upstream returned 410');
    const dead = await taskWith(`${deadUrl}/expired.png`);
    const deadRes = await image(dead, '?part=1');
    expect(deadRes.status).toBe(502);
    expect(((await deadRes.json()) as { error: string }).error).toBe('http_get_image_failed');
  });
});
