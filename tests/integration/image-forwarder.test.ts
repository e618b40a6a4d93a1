import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { ManualClock } from '../../src/lib/clock.ts';
import { type Simulator, startSimulator, type TaskView } from '../../src/simulator/index.ts';
import { addChannel, addTask, addUser } from '../helpers/rows.ts';
import { startTestServer, type TestServer, waitFor } from '../helpers/server.ts';
import { submitToSimulator } from '../helpers/simulator.ts';

/**
 * GET/HEAD /mj/image/:id against the simulator's real images and small servers of our own for
 * the error cases. 127.0.0.1 is private, so every upstream here is reachable only because it is
 * a channel's host (or because the second gateway allows private addresses).
 */

const SECRET = 'img-secret';
const clock = new ManualClock(1_790_000_000_000);
let sim: Simulator;
let server: TestServer;
let lenient: TestServer;
let edge: ReturnType<typeof Bun.serve>;
let outsider: ReturnType<typeof Bun.serve>;
let closedUrl: string;
let userId: number;
const edgeImage = new Uint8Array(4096).map((_, i) => (i * 7) % 251);

const sha = (b: ArrayBuffer | Uint8Array) => new Bun.CryptoHasher('sha256').update(b).digest('hex');

async function simTask(prompt: string, steps: number): Promise<TaskView> {
  const id = await submitToSimulator(sim, SECRET, prompt);
  clock.advance(steps * 1000);
  return (await (
    await fetch(`${sim.url}/mj/task/${id}/fetch`, { headers: { 'mj-api-secret': SECRET } })
  ).json()) as TaskView;
}

/** A task row whose stored image is `imageUrl`; returns its mj_id. */
async function taskWith(imageUrl: string, status = 'SUCCESS', on: TestServer = server): Promise<string> {
  const uid = on === server ? userId : (await addUser(on.handle)).id;
  return (await addTask(on.handle, { userId: uid, imageUrl, status, progress: status === 'SUCCESS' ? '100%' : '46%' }))
    .mjId;
}

const image = (id: string, init?: RequestInit, on: TestServer = server) => fetch(`${on.url}/mj/image/${id}`, init);

beforeAll(async () => {
  sim = await startSimulator({ secret: SECRET, clock, stepMs: 1000, imageSize: 64 });
  const outsiderImage = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]);
  outsider = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    fetch: () => new Response(outsiderImage, { headers: { 'content-type': 'image/png' } }),
  });
  const outsiderUrl = `http://127.0.0.1:${outsider.port}`;
  edge = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    fetch(req) {
      const path = new URL(req.url).pathname;
      switch (path) {
        // A stream body: Bun.serve then sends no Content-Type at all.
        case '/img.bin':
          return new Response(
            new ReadableStream({
              start(c) {
                c.enqueue(edgeImage);
                c.close();
              },
            }),
          );
        case '/404':
          return new Response('upstream secret page', { status: 404 });
        case '/500':
          return new Response('stack trace of upstream', { status: 500 });
        case '/to-same':
          return new Response(null, { status: 302, headers: { location: '/img.bin' } });
        case '/to-private':
          return new Response(null, { status: 302, headers: { location: `${outsiderUrl}/x.png` } });
        case '/to-metadata':
          return new Response(null, { status: 307, headers: { location: 'http://169.254.169.254/latest/meta-data/' } });
        case '/loop':
          return new Response(null, { status: 302, headers: { location: '/loop' } });
        case '/hang':
          return new Promise<Response>(() => {});
        default:
          return new Response('nf', { status: 404 });
      }
    },
  });
  const closed = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response('') });
  closedUrl = `http://127.0.0.1:${closed.port}`;
  await closed.stop(true);

  server = await startTestServer({ clock });
  userId = (await addUser(server.handle)).id;
  await addChannel(server.handle, sim.url, { key: SECRET });
  await addChannel(server.handle, `http://127.0.0.1:${edge.port}`);
  await addChannel(server.handle, closedUrl);
  lenient = await startTestServer({ clock, env: { IMAGE_FETCH_ALLOW_PRIVATE: 'true', UPSTREAM_TIMEOUT_MS: '300' } });
});

afterAll(async () => {
  await lenient.stop();
  await server.stop();
  await sim.stop();
  await edge.stop(true);
  await outsider.stop(true);
});

describe('image forwarder', () => {
  test('streams the upstream bytes unchanged with type, validators and immutable caching for SUCCESS', async () => {
    const view = await simTask('a red fox in snow', 12);
    expect(view.status).toBe('SUCCESS');
    const direct = await fetch(view.imageUrl!);
    const directBytes = await direct.arrayBuffer();
    const id = await taskWith(view.imageUrl!);
    const res = await image(id, { headers: { origin: 'https://app.example' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    expect(res.headers.get('cache-control')).toBe('public, max-age=86400, immutable');
    expect(res.headers.get('etag')).toBe(direct.headers.get('etag'));
    expect(res.headers.get('last-modified')).toBe(direct.headers.get('last-modified'));
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(sha(await res.arrayBuffer())).toBe(sha(directBytes));
    // The same under a mode prefix, and HEAD answers the headers only.
    expect(sha(await (await fetch(`${server.url}/mj-fast/mj/image/${id}`)).arrayBuffer())).toBe(sha(directBytes));
    const head = await image(id, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toBe('image/png');
    expect(head.headers.get('content-length')).toBe(String(directBytes.byteLength));
    expect((await head.arrayBuffer()).byteLength).toBe(0);
  });

  test('If-None-Match passes upstream and a 304 comes back; Range gives a 206 with the right slice', async () => {
    const view = await simTask('a blue whale', 12);
    const id = await taskWith(view.imageUrl!);
    const full = new Uint8Array(await (await fetch(view.imageUrl!)).arrayBuffer());
    const first = await image(id);
    const etag = first.headers.get('etag')!;
    await first.arrayBuffer();
    const cached = await image(id, { headers: { 'if-none-match': etag } });
    expect(cached.status).toBe(304);
    expect(cached.headers.get('etag')).toBe(etag);
    expect((await cached.arrayBuffer()).byteLength).toBe(0);
    const part = await image(id, { headers: { range: 'bytes=0-99' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 0-99/${full.length}`);
    expect(part.headers.get('accept-ranges')).toBe('bytes');
    expect(sha(await part.arrayBuffer())).toBe(sha(full.subarray(0, 100)));
  });

  test('an unfinished task shows its preview uncached', async () => {
    const view = await simTask('a slow sunrise', 3);
    expect(view.status).toBe('IN_PROGRESS');
    const res = await image(await taskWith(view.imageUrl!, 'IN_PROGRESS'));
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect((await res.arrayBuffer()).byteLength).toBeGreaterThan(0);
  });

  test('a large image streams through intact', async () => {
    const url = `${sim.url}/images/big-${4 * 1024 * 1024 + 3}.png`;
    const res = await image(await taskWith(url));
    expect(res.status).toBe(200);
    expect(sha(await res.arrayBuffer())).toBe(sha(await (await fetch(url)).arrayBuffer()));
  });

  test('unknown id, or a task without an image: 404 midjourney_task_not_found (with CORS)', async () => {
    const unknown = await image('9999999999999999');
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('access-control-allow-origin')).toBe('*');
    expect(await unknown.json()).toEqual({ error: 'midjourney_task_not_found' });
    const empty = await image(await taskWith('', 'IN_PROGRESS'));
    expect(empty.status).toBe(404);
    expect(await empty.json()).toEqual({ error: 'midjourney_task_not_found' });
  });

  test('upstream 404 and 500 come back with the same status, never the upstream body', async () => {
    for (const status of [404, 500]) {
      const res = await image(await taskWith(`http://127.0.0.1:${edge.port}/${status}`));
      expect(res.status).toBe(status);
      expect(await res.json()).toEqual({ error: `upstream returned ${status}` });
    }
  });

  test('connection failure: 502 upstream image unavailable, naming the host', async () => {
    const res = await image(await taskWith(`${closedUrl}/gone.png`));
    expect(res.status).toBe(502);
    expect(await res.json()).toEqual({
      error: 'http_get_image_failed',
      message: `upstream image unavailable: ${new URL(closedUrl).host} could not be reached`,
    });
  });

  test('timeout waiting for the upstream: 504', async () => {
    await addChannel(lenient.handle, `http://127.0.0.1:${edge.port}`);
    const res = await image(
      await taskWith(`http://127.0.0.1:${edge.port}/hang`, 'SUCCESS', lenient),
      undefined,
      lenient,
    );
    expect(res.status).toBe(504);
    expect(await res.json()).toEqual({ error: 'image_fetch_timeout' });
  });

  test('a private address that is no channel host is refused, unless IMAGE_FETCH_ALLOW_PRIVATE', async () => {
    const url = `http://127.0.0.1:${outsider.port}/x.png`;
    const refused = await image(await taskWith(url));
    expect(refused.status).toBe(403);
    expect(refused.headers.get('access-control-allow-origin')).toBe('*');
    expect(await refused.json()).toEqual({ error: 'request blocked' });
    for (const other of [
      'http://localhost:1/x.png',
      'http://169.254.169.254/latest/meta-data/',
      'http://[::1]:80/x.png',
      'file:///etc/passwd',
    ]) {
      expect((await image(await taskWith(other))).status).toBe(403);
    }
    const allowed = await image(await taskWith(url, 'SUCCESS', lenient), undefined, lenient);
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get('content-type')).toBe('image/png');
    expect((await allowed.arrayBuffer()).byteLength).toBe(7);
  });

  test('redirects: followed on allowed hosts, refused towards a private address, at most 3', async () => {
    const base = `http://127.0.0.1:${edge.port}`;
    const same = await image(await taskWith(`${base}/to-same`));
    expect(same.status).toBe(200);
    expect(same.headers.get('content-type')).toBe('image/jpeg'); // none upstream: the default
    expect(sha(await same.arrayBuffer())).toBe(sha(edgeImage));
    for (const path of ['/to-private', '/to-metadata']) {
      const res = await image(await taskWith(`${base}${path}`));
      expect(res.status).toBe(403);
      expect(await res.json()).toEqual({ error: 'request blocked' });
    }
    const loop = await image(await taskWith(`${base}/loop`));
    expect(loop.status).toBe(502);
  });
});

describe('image bytes metric', () => {
  const served = async () => {
    const text = await server.deps.metrics.registry.getSingleMetricAsString('mjgw_image_bytes_total');
    return Number(/^mjgw_image_bytes_total (\S+)$/m.exec(text)?.[1] ?? NaN);
  };

  /** Fetches the task's image and says how many bytes came and how far the counter moved. */
  async function counted(mjId: string): Promise<{ got: number; moved: number; length: string | null }> {
    const before = await served();
    const res = await image(mjId);
    expect(res.status).toBe(200);
    const got = (await res.arrayBuffer()).byteLength;
    return { got, moved: (await served()) - before, length: res.headers.get('content-length') };
  }

  test('every byte counted once: a streamed answer of no declared length, a stored fill, a stored hit', async () => {
    // The simulator streams its big images (chunked, no length), as many image servers do.
    const bytes = 300_000;
    const url = `${sim.url}/images/big-${bytes}.png`;
    const preview = await counted(await taskWith(url, 'IN_PROGRESS'));
    expect(preview).toEqual({ got: bytes, moved: bytes, length: null });
    const finalId = await taskWith(url);
    const fill = await counted(finalId);
    expect(fill).toEqual({ got: bytes, moved: bytes, length: null });
    // Stored once the fill committed: a HEAD (never counted) then carries the stored length.
    await waitFor(
      async () =>
        (await image(finalId, { method: 'HEAD' })).headers.get('content-length') === String(bytes) ? true : null,
      'the stored image',
    );
    const hit = await counted(finalId);
    expect(hit).toEqual({ got: bytes, moved: bytes, length: String(bytes) });
  });

  test('a declared length is counted as declared, the body passed through whole', async () => {
    const view = await simTask('a counted fox', 3);
    const res = await fetch(view.imageUrl!);
    const length = Number(res.headers.get('content-length'));
    await res.arrayBuffer();
    expect(length).toBeGreaterThan(0);
    expect(await counted(await taskWith(view.imageUrl!, 'IN_PROGRESS'))).toEqual({
      got: length,
      moved: length,
      length: String(length),
    });
  });
});
