import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { FolderImageStore } from '../../src/images/folder-store.ts';
import { ManualClock } from '../../src/lib/clock.ts';
import { silentLogger } from '../../src/lib/logger.ts';
import { type Simulator, startSimulator } from '../../src/simulator/index.ts';
import { addChannel, addTask, addUser } from '../helpers/rows.ts';
import { startTestServer, type TestServer, waitFor } from '../helpers/server.ts';
import { finishedImageUrl, submitToSimulator } from '../helpers/simulator.ts';

/**
 * The image store behind GET/HEAD /mj/image/:id: what the first full GET of a SUCCESS image
 * stores, what is served from the folder afterwards (proved by killing the upstream link), and
 * the bound, the atomicity and the concurrency of the folder.
 */

const SECRET = 'store-secret';
const clock = new ManualClock(1_790_000_000_000);
let sim: Simulator;
let server: TestServer;
let small: TestServer;
let dropper: ReturnType<typeof Bun.serve>;
let deadUrl: string;
/** Bytes the dropping upstream announces; it sends half, then breaks the connection. */
const ANNOUNCED = 64 * 1024;
/** 3 KiB: three 1000-byte images fit, a fourth evicts one. */
const SMALL_BOUND = Math.floor(0.003 * 1024 * 1024);

const sha = (b: ArrayBuffer | Uint8Array) => new Bun.CryptoHasher('sha256').update(b).digest('hex');
const storeDir = (s: TestServer) => join(dirname(s.dbPath), 'images');
const stored = (s: TestServer, mjId: string) =>
  existsSync(join(storeDir(s), `${mjId}.json`)) && existsSync(join(storeDir(s), `${mjId}.bin`));
const image = (s: TestServer, id: string, init?: RequestInit) => fetch(`${s.url}/mj/image/${id}`, init);

async function taskWith(s: TestServer, imageUrl: string, status = 'SUCCESS'): Promise<string> {
  return (
    await addTask(s.handle, {
      userId: (await addUser(s.handle)).id,
      imageUrl,
      status,
      progress: status === 'SUCCESS' ? '100%' : '46%',
    })
  ).mjId;
}

/** Points the task at an upstream that no longer answers (an expired CDN link). */
async function killLink(s: TestServer, mjId: string): Promise<void> {
  await s.sql('UPDATE tasks SET image_url = $1 WHERE mj_id = $2', `${deadUrl}/expired.png`, mjId);
}

const finalImageUrl = (prompt: string) => finishedImageUrl(sim, SECRET, clock, prompt);

/** First GET (streams and stores); resolves once the image is in the folder. */
async function firstGet(s: TestServer, mjId: string): Promise<{ res: Response; bytes: ArrayBuffer }> {
  const res = await image(s, mjId);
  expect(res.status).toBe(200);
  const bytes = await res.arrayBuffer();
  await waitFor(() => stored(s, mjId), `image ${mjId} stored`);
  return { res, bytes };
}

function headersOf(res: Response): Record<string, string> {
  const out: Record<string, string> = {};
  res.headers.forEach((v, k) => {
    if (k !== 'date' && k !== 'x-request-id') out[k] = v;
  });
  return out;
}

beforeAll(async () => {
  sim = await startSimulator({ secret: SECRET, clock, stepMs: 1000, imageSize: 64 });
  dropper = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    fetch: () =>
      new Response(
        new ReadableStream({
          async pull(c) {
            c.enqueue(new Uint8Array(ANNOUNCED / 2).fill(7));
            await Bun.sleep(5);
            c.error(undefined); // not an Error: Bun closes the connection without printing a trace
          },
        }),
        { headers: { 'content-type': 'image/png', 'content-length': String(ANNOUNCED) } },
      ),
  });
  const closed = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response('') });
  deadUrl = `http://127.0.0.1:${closed.port}`;
  await closed.stop(true);
  server = await startTestServer({ clock });
  small = await startTestServer({ clock, env: { IMAGE_CACHE_MAX_MB: '0.003' } });
  for (const s of [server, small]) {
    await addChannel(s.handle, sim.url, { key: SECRET });
    await addChannel(s.handle, `http://127.0.0.1:${dropper.port}`);
    await addChannel(s.handle, deadUrl);
  }
});

afterAll(async () => {
  await small.stop();
  await server.stop();
  await sim.stop();
  await dropper.stop(true);
});

describe('image store', () => {
  test('the first GET stores the image; later answers come from the store with the same headers and bytes', async () => {
    const mjId = await taskWith(server, await finalImageUrl('a lighthouse at dusk'));
    const first = await firstGet(server, mjId);
    await killLink(server, mjId);
    const again = await image(server, mjId, { headers: { origin: 'https://app.example' } });
    expect(again.status).toBe(200);
    expect(sha(await again.arrayBuffer())).toBe(sha(first.bytes));
    // The same headers, except that a file answer has its length where the stream went chunked.
    const { 'transfer-encoding': chunked, ...streamed } = headersOf(first.res);
    expect(chunked).toBe('chunked');
    expect(headersOf(again)).toEqual({ ...streamed, 'content-length': String(first.bytes.byteLength) });
    expect(again.headers.get('cache-control')).toBe('public, max-age=86400, immutable');
    expect(again.headers.get('content-length')).toBe(String(first.bytes.byteLength));
    expect(again.headers.get('etag')).toMatch(/^"/);
    expect(again.headers.get('x-request-id')).toMatch(/^\w{12}$/);
    // Without a store the dead link fails: the answer above really came from the folder.
    const unstored = await taskWith(server, `${deadUrl}/expired.png`);
    expect((await image(server, unstored)).status).toBe(502);
  });

  test("a stored file removed behind the store's back is fetched and stored again, never answered half", async () => {
    const mjId = await taskWith(server, await finalImageUrl('a vanishing heron'));
    const { bytes } = await firstGet(server, mjId);
    rmSync(join(storeDir(server), `${mjId}.bin`));
    const res = await image(server, mjId);
    expect(res.status).toBe(200);
    expect(sha(await res.arrayBuffer())).toBe(sha(bytes));
    await waitFor(() => stored(server, mjId), 'stored again');
  });

  test('a stored image outlives its upstream: the simulator is stopped and it still serves', async () => {
    const own = await startSimulator({ clock, imageSize: 64 });
    const url = `${own.url}/images/big-2048.png`;
    const lenient = await startTestServer({ clock, env: { IMAGE_FETCH_ALLOW_PRIVATE: 'true' } });
    try {
      const mjId = await taskWith(lenient, url);
      const { bytes } = await firstGet(lenient, mjId);
      await own.stop();
      const res = await image(lenient, mjId);
      expect(res.status).toBe(200);
      expect(sha(await res.arrayBuffer())).toBe(sha(bytes));
    } finally {
      await lenient.stop();
    }
  });

  test('stored answers honour Range (206, 416), If-None-Match and If-Modified-Since (304), and HEAD', async () => {
    const mjId = await taskWith(server, await finalImageUrl('a paper crane'));
    const { res, bytes } = await firstGet(server, mjId);
    await killLink(server, mjId);
    const full = new Uint8Array(bytes);
    const part = await image(server, mjId, { headers: { range: 'bytes=10-99' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 10-99/${full.length}`);
    expect(part.headers.get('content-length')).toBe('90');
    expect(sha(await part.arrayBuffer())).toBe(sha(full.subarray(10, 100)));
    const tail = await image(server, mjId, { headers: { range: 'bytes=-5' } });
    expect(sha(await tail.arrayBuffer())).toBe(sha(full.subarray(full.length - 5)));
    const beyond = await image(server, mjId, { headers: { range: `bytes=${full.length}-` } });
    expect(beyond.status).toBe(416);
    expect(beyond.headers.get('content-range')).toBe(`bytes */${full.length}`);
    expect(beyond.headers.get('access-control-allow-origin')).toBe('*');
    const etag = res.headers.get('etag')!;
    const same = await image(server, mjId, { headers: { 'if-none-match': `"other", ${etag}` } });
    expect(same.status).toBe(304);
    expect(same.headers.get('etag')).toBe(etag);
    expect((await same.arrayBuffer()).byteLength).toBe(0);
    expect((await image(server, mjId, { headers: { 'if-none-match': '"other"' } })).status).toBe(200);
    const since = await image(server, mjId, { headers: { 'if-modified-since': res.headers.get('last-modified')! } });
    expect(since.status).toBe(304);
    // A stale If-Range turns the range into the whole image.
    const staleRange = await image(server, mjId, { headers: { range: 'bytes=0-9', 'if-range': '"old"' } });
    expect(staleRange.status).toBe(200);
    expect((await staleRange.arrayBuffer()).byteLength).toBe(full.length);
    const head = await image(server, mjId, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(full.length));
    expect(head.headers.get('content-type')).toBe('image/png');
    expect((await head.arrayBuffer()).byteLength).toBe(0);
  });

  test('previews are never stored', async () => {
    const id = await submitToSimulator(sim, SECRET, 'a half-drawn owl');
    clock.advance(3000);
    const view = (await (
      await fetch(`${sim.url}/mj/task/${id}/fetch`, { headers: { 'mj-api-secret': SECRET } })
    ).json()) as { status: string; imageUrl: string };
    expect(view.status).toBe('IN_PROGRESS');
    const preview = await taskWith(server, view.imageUrl, 'IN_PROGRESS');
    for (const init of [undefined, { method: 'HEAD' }, { headers: { range: 'bytes=0-9' } }]) {
      expect((await image(server, preview, init)).status).toBeLessThan(300);
    }
    // A final image asked for afterwards is stored: the store was working all along.
    await firstGet(server, await taskWith(server, await finalImageUrl('a finished owl')));
    expect(stored(server, preview)).toBe(false);
    await killLink(server, preview);
    expect((await image(server, preview)).status).toBe(502);
  });

  test('a HEAD, a range or a revalidation of an unstored final image is answered as asked and stores it in the background', async () => {
    for (const init of [
      { method: 'HEAD' },
      { headers: { range: 'bytes=0-9' } },
      { headers: { 'if-none-match': '"whatever"' } },
    ] as RequestInit[]) {
      const url = await finalImageUrl(`an owl asked for with ${JSON.stringify(init)}`);
      const whole = new Uint8Array(await (await fetch(url)).arrayBuffer());
      const mjId = await taskWith(server, url);
      const res = await image(server, mjId, init);
      expect(res.status).toBe(init.method === 'HEAD' || 'if-none-match' in (init.headers ?? {}) ? 200 : 206);
      await res.arrayBuffer();
      await waitFor(() => stored(server, mjId), `background fill of ${JSON.stringify(init)}`);
      await killLink(server, mjId);
      expect(sha(await (await image(server, mjId)).arrayBuffer())).toBe(sha(whole));
    }
  });

  test('an upstream that drops mid-stream leaves nothing in the store', async () => {
    const mjId = await taskWith(server, `http://127.0.0.1:${dropper.port}/half.png`);
    const res = await image(server, mjId);
    expect(res.status).toBe(200);
    let failed = false;
    try {
      const got = await res.arrayBuffer();
      failed = got.byteLength < ANNOUNCED;
    } catch {
      failed = true;
    }
    expect(failed).toBe(true);
    await waitFor(() => readdirSync(join(storeDir(server), 'tmp')).length === 0, 'temp file removed');
    expect(stored(server, mjId)).toBe(false);
    expect(readdirSync(storeDir(server)).filter((f) => f.startsWith(mjId))).toEqual([]);
  });

  test('concurrent first requests all get the whole image and the store keeps one intact copy', async () => {
    const url = await finalImageUrl('a crowd of starlings');
    const expected = sha(await (await fetch(url)).arrayBuffer());
    const mjId = await taskWith(server, url);
    const answers = await Promise.all(
      Array.from({ length: 8 }, () => image(server, mjId).then((r) => r.arrayBuffer())),
    );
    expect(answers.map(sha)).toEqual(Array.from({ length: 8 }, () => expected));
    await waitFor(() => stored(server, mjId), 'stored');
    await killLink(server, mjId);
    expect(sha(await (await image(server, mjId)).arrayBuffer())).toBe(expected);
    expect(
      readdirSync(storeDir(server))
        .filter((f) => f.startsWith(mjId))
        .sort(),
    ).toEqual([`${mjId}.bin`, `${mjId}.json`]);
  });

  test('the bound holds: the least recently used image goes first, and one too big is served but not kept', async () => {
    const ids = await Promise.all(
      [1000, 1001, 1002, 1003].map((n) => taskWith(small, `${sim.url}/images/big-${n}.png`)),
    );
    const [a, b, c, d] = ids as [string, string, string, string];
    for (const id of [a, b, c]) await firstGet(small, id);
    // A is used again (from the store), so B is now the least recently used.
    expect((await (await image(small, a)).arrayBuffer()).byteLength).toBe(1000);
    await firstGet(small, d);
    expect([a, b, c, d].map((id) => stored(small, id))).toEqual([true, false, true, true]);
    // Counted over the images the folder holds (an evicted file lingers a moment for answers under way).
    const held = readdirSync(storeDir(small))
      .filter((f) => f.endsWith('.json'))
      .map((f) => f.replace('.json', '.bin'));
    expect(held.length).toBe(3);
    expect(held.reduce((sum, f) => sum + statSync(join(storeDir(small), f)).size, 0)).toBeLessThanOrEqual(SMALL_BOUND);
    const huge = await taskWith(small, `${sim.url}/images/big-${SMALL_BOUND + 1}.png`);
    expect((await (await image(small, huge)).arrayBuffer()).byteLength).toBe(SMALL_BOUND + 1);
    expect((await (await image(small, huge)).arrayBuffer()).byteLength).toBe(SMALL_BOUND + 1);
    expect(stored(small, huge)).toBe(false);
  });

  test('a channel added a moment ago is trusted at once, though the channel hosts are kept between requests', async () => {
    const before = await taskWith(server, await finalImageUrl('a warm-up for the host list'));
    expect((await image(server, before, { method: 'HEAD' })).status).toBe(200);
    const fresh = Bun.serve({
      port: 0,
      hostname: '127.0.0.1',
      fetch: () => new Response(new Uint8Array([1, 2, 3]), { headers: { 'content-type': 'image/png' } }),
    });
    try {
      const mjId = await taskWith(server, `http://127.0.0.1:${fresh.port}/new.png`);
      expect((await image(server, mjId)).status).toBe(403); // not a channel's host yet
      await addChannel(server.handle, `http://127.0.0.1:${fresh.port}`);
      const res = await image(server, mjId);
      expect(res.status).toBe(200);
      expect(new Uint8Array(await res.arrayBuffer())).toEqual(new Uint8Array([1, 2, 3]));
    } finally {
      await fresh.stop(true);
    }
  });

  test('reopening the folder rebuilds the index and clears what a crash left behind', async () => {
    const dir = storeDir(small);
    writeFileSync(join(dir, 'tmp', 'half-written'), 'x');
    writeFileSync(join(dir, '4444444444444444.bin'), 'orphan without metadata');
    const before = readdirSync(dir).filter((f) => f.endsWith('.json'));
    const reopened = new FolderImageStore(dir, SMALL_BOUND, silentLogger);
    expect(readdirSync(join(dir, 'tmp'))).toEqual([]);
    expect(existsSync(join(dir, '4444444444444444.bin'))).toBe(false);
    expect(reopened.totalBytes).toBe(
      before.reduce((sum, f) => sum + statSync(join(dir, f.replace('.json', '.bin'))).size, 0),
    );
    const one = before[0]!.replace('.json', '');
    expect((await reopened.get(one))?.size).toBe(statSync(join(dir, `${one}.bin`)).size);
    // A smaller bound on reopening evicts down to it.
    expect(new FolderImageStore(dir, 1500, silentLogger).totalBytes).toBeLessThanOrEqual(1500);
  });

  test('one writer per key: a second one is refused until the first commits, and a short image is never committed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mjgw-store-'));
    try {
      const store = new FolderImageStore(dir, 10_000, silentLogger);
      const meta = { contentType: 'image/png', etag: '"e"', lastModified: null };
      const first = store.begin('1234', meta, 4)!;
      expect(store.begin('1234', meta, 4)).toBeNull();
      await first.write(new Uint8Array([1, 2, 3, 4]));
      const committing = first.commit();
      expect(store.begin('1234', meta, 4)).toBeNull();
      expect(await committing).toBe(true);
      expect(new Uint8Array(await (await store.get('1234'))!.body.arrayBuffer())).toEqual(new Uint8Array([1, 2, 3, 4]));
      expect(store.begin('1234', meta, 4)).toBeNull(); // already stored
      const short = store.begin('5678', meta, 10)!;
      await short.write(new Uint8Array([9]));
      expect(await short.commit()).toBe(false);
      expect(await store.get('5678')).toBeNull();
      expect(store.totalBytes).toBe(4);
      store.delete('1234');
      expect(await store.get('1234')).toBeNull();
      expect(store.totalBytes).toBe(0);
      expect(readdirSync(dir).filter((f) => f.endsWith('.json'))).toEqual([]);
      expect(readdirSync(join(dir, 'tmp'))).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
