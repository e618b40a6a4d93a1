import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { ManualClock } from '../../src/lib/clock.ts';
import { type Simulator, startSimulator } from '../../src/simulator/index.ts';
import { addChannel, addTask, addUser } from '../helpers/rows.ts';
import { bucketClient, s3Env, testBucket, uniquePrefix } from '../helpers/s3.ts';
import { startTestServer, type TestServer, waitFor } from '../helpers/server.ts';
import { finishedImageUrl } from '../helpers/simulator.ts';

/**
 * The image store in an S3-compatible bucket (IMAGE_STORE=s3://…), through the real gateway, the
 * simulator as the upstream and a real S3 server (s3rver): what the first GET stores in the
 * bucket, the stored answers' headers, Range and revalidation, two replicas sharing the bucket, a
 * failed upstream leaving nothing, and redirects to presigned URLs.
 */

const SECRET = 's3-secret';
const clock = new ManualClock(1_790_000_000_000);
const prefix = uniquePrefix('image-s3');
const bucket = bucketClient();
let sim: Simulator;
let a: TestServer;
let b: TestServer;
let dropper: ReturnType<typeof Bun.serve>;
let deadUrl: string;
const ANNOUNCED = 64 * 1024;

const sha = (x: ArrayBuffer | Uint8Array) => new Bun.CryptoHasher('sha256').update(x).digest('hex');
const image = (s: TestServer, id: string, init?: RequestInit) => fetch(`${s.url}/mj/image/${id}`, init);
/** Both objects there; s3rver may answer a HEAD of an object being written with a 500: not yet. */
const inBucket = async (mjId: string) =>
  (await bucket.exists(`${prefix}/${mjId}.json`).catch(() => false)) &&
  (await bucket.exists(`${prefix}/${mjId}.bin`).catch(() => false));
const keysUnder = async (p: string) => ((await bucket.list({ prefix: p })).contents ?? []).map((c) => c.key);

async function taskWith(s: TestServer, imageUrl: string, mjId?: string): Promise<string> {
  const userId = (await addUser(s.handle)).id;
  return (await addTask(s.handle, { userId, imageUrl, status: 'SUCCESS', progress: '100%', ...(mjId ? { mjId } : {}) }))
    .mjId;
}

const finalImageUrl = (prompt: string) => finishedImageUrl(sim, SECRET, clock, prompt);

/** First GET (streams from the upstream and stores); resolves once the image is in the bucket. */
async function firstGet(s: TestServer, mjId: string): Promise<{ res: Response; bytes: Uint8Array }> {
  const res = await image(s, mjId);
  expect(res.status).toBe(200);
  const bytes = new Uint8Array(await res.arrayBuffer());
  await waitFor(() => inBucket(mjId), `image ${mjId} in the bucket`);
  return { res, bytes };
}

async function killLink(s: TestServer, mjId: string): Promise<void> {
  await s.sql('UPDATE tasks SET image_url = $1 WHERE mj_id = $2', `${deadUrl}/expired.png`, mjId);
}

function headersOf(res: Response): Record<string, string> {
  const out: Record<string, string> = {};
  res.headers.forEach((v, k) => {
    if (k !== 'date' && k !== 'x-request-id' && k !== 'transfer-encoding' && k !== 'content-length') out[k] = v;
  });
  return out;
}

async function addChannels(s: TestServer): Promise<void> {
  await addChannel(s.handle, sim.url, { key: SECRET });
  await addChannel(s.handle, `http://127.0.0.1:${dropper.port}`);
  await addChannel(s.handle, deadUrl);
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
            c.error(undefined);
          },
        }),
        { headers: { 'content-type': 'image/png', 'content-length': String(ANNOUNCED) } },
      ),
  });
  const closed = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response('') });
  deadUrl = `http://127.0.0.1:${closed.port}`;
  await closed.stop(true);
  // Two replicas on one bucket (each with its own database: a stored image needs no task row).
  a = await startTestServer({ clock, env: s3Env(prefix) });
  b = await startTestServer({ clock, env: s3Env(prefix) });
  for (const s of [a, b]) await addChannels(s);
});

afterAll(async () => {
  await a?.stop();
  await b?.stop();
  await sim?.stop();
  await dropper?.stop(true);
});

describe('image store in an S3-compatible bucket', () => {
  test('the first GET stores the image in the bucket; later answers come from the store with the same headers, Range and 304', async () => {
    const mjId = await taskWith(a, await finalImageUrl('a lighthouse in a bucket'));
    const first = await firstGet(a, mjId);
    const stat = await bucket.stat(`${prefix}/${mjId}.bin`);
    expect(stat.size).toBe(first.bytes.length);
    expect(stat.type).toBe('image/png');
    await killLink(a, mjId);
    const again = await image(a, mjId);
    expect(again.status).toBe(200);
    expect(sha(await again.arrayBuffer())).toBe(sha(first.bytes));
    expect(headersOf(again)).toEqual(headersOf(first.res));
    expect(again.headers.get('content-length')).toBe(String(first.bytes.length));
    expect(again.headers.get('cache-control')).toBe('public, max-age=86400, immutable');
    expect(again.headers.get('etag')).toMatch(/^"/);
    expect(again.headers.get('last-modified')).toBe(first.res.headers.get('last-modified'));
    const part = await image(a, mjId, { headers: { range: 'bytes=10-99' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 10-99/${first.bytes.length}`);
    expect(sha(await part.arrayBuffer())).toBe(sha(first.bytes.subarray(10, 100)));
    const beyond = await image(a, mjId, { headers: { range: `bytes=${first.bytes.length}-` } });
    expect(beyond.status).toBe(416);
    const etag = first.res.headers.get('etag')!;
    const same = await image(a, mjId, { headers: { 'if-none-match': etag } });
    expect(same.status).toBe(304);
    expect(same.headers.get('etag')).toBe(etag);
    const head = await image(a, mjId, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(first.bytes.length));
    // A replica's local copy answers without the bucket: removed there, it is still served here.
    await bucket.delete(`${prefix}/${mjId}.json`);
    await bucket.delete(`${prefix}/${mjId}.bin`);
    expect(sha(await (await image(a, mjId)).arrayBuffer())).toBe(sha(first.bytes));
  });

  test('replica B serves what replica A stored, with the same headers, Range and 304', async () => {
    const url = await finalImageUrl('a heron seen by two replicas');
    const mjId = await taskWith(a, url);
    const first = await firstGet(a, mjId);
    // B knows the task only by a link that is gone: its answers come from the bucket.
    await taskWith(b, `${deadUrl}/expired.png`, mjId);
    const fromB = await image(b, mjId);
    expect(fromB.status).toBe(200);
    expect(sha(await fromB.arrayBuffer())).toBe(sha(first.bytes));
    expect(headersOf(fromB)).toEqual(headersOf(first.res));
    expect(fromB.headers.get('content-length')).toBe(String(first.bytes.length));
    const part = await image(b, mjId, { headers: { range: 'bytes=-5' } });
    expect(part.status).toBe(206);
    expect(sha(await part.arrayBuffer())).toBe(sha(first.bytes.subarray(first.bytes.length - 5)));
    expect((await image(b, mjId, { headers: { 'if-none-match': first.res.headers.get('etag')! } })).status).toBe(304);
    // Without the bucket B had nothing: an unstored image on the dead link fails there.
    expect((await image(b, await taskWith(b, `${deadUrl}/other.png`))).status).toBe(502);
  });

  test('concurrent first requests all get the whole image and the bucket keeps one intact copy', async () => {
    const url = await finalImageUrl('a crowd of starlings over a bucket');
    const expected = sha(await (await fetch(url)).arrayBuffer());
    const mjId = await taskWith(a, url);
    const answers = await Promise.all(Array.from({ length: 6 }, () => image(a, mjId).then((r) => r.arrayBuffer())));
    expect(answers.map(sha)).toEqual(Array.from({ length: 6 }, () => expected));
    await waitFor(() => inBucket(mjId), 'stored');
    expect((await keysUnder(`${prefix}/${mjId}`)).sort()).toEqual([`${prefix}/${mjId}.bin`, `${prefix}/${mjId}.json`]);
    expect(sha(await bucket.file(`${prefix}/${mjId}.bin`).arrayBuffer())).toBe(expected);
  });

  test('concurrent first requests in one process upload the image once', async () => {
    // A replica whose bucket requests pass through a counting relay to the S3 server.
    const target = testBucket().endpoint;
    const uploads: string[] = [];
    const relay = Bun.serve({
      port: 0,
      hostname: '127.0.0.1',
      fetch: async (req) => {
        const u = new URL(req.url);
        if (req.method === 'PUT' || req.method === 'POST') uploads.push(`${req.method} ${u.pathname}`);
        const body = req.method === 'GET' || req.method === 'HEAD' ? undefined : await req.arrayBuffer();
        const res = await fetch(`${target}${u.pathname}${u.search}`, {
          method: req.method,
          headers: req.headers,
          body,
        });
        return new Response(req.method === 'HEAD' ? null : await res.arrayBuffer(), {
          status: res.status,
          headers: res.headers,
        });
      },
    });
    const e = await startTestServer({ clock, env: s3Env(prefix, { S3_ENDPOINT: `http://127.0.0.1:${relay.port}` }) });
    try {
      await addChannels(e);
      const url = await finalImageUrl('one upload for a crowd');
      const mjId = await taskWith(e, url);
      const answers = await Promise.all(Array.from({ length: 6 }, () => image(e, mjId).then((r) => r.arrayBuffer())));
      expect(new Set(answers.map(sha)).size).toBe(1);
      await waitFor(() => inBucket(mjId), 'stored');
      expect(uploads.filter((u) => u.includes(`/${mjId}.`)).sort()).toEqual([
        `PUT /mj-test/${prefix}/${mjId}.bin`,
        `PUT /mj-test/${prefix}/${mjId}.json`,
      ]);
    } finally {
      await e.stop();
      await relay.stop(true);
    }
  });

  test('an upstream that drops mid-stream leaves nothing in the bucket', async () => {
    const mjId = await taskWith(a, `http://127.0.0.1:${dropper.port}/half.png`);
    const res = await image(a, mjId);
    expect(res.status).toBe(200);
    let failed = false;
    try {
      failed = (await res.arrayBuffer()).byteLength < ANNOUNCED;
    } catch {
      failed = true;
    }
    expect(failed).toBe(true);
    // A complete image stored after it proves the store was working meanwhile.
    await firstGet(a, await taskWith(a, await finalImageUrl('an image after the broken one')));
    expect(await keysUnder(`${prefix}/${mjId}`)).toEqual([]);
    // B has no such task, and the bucket nothing for it: not found.
    expect((await image(b, mjId)).status).toBe(404);
  });

  test('IMAGE_REDIRECT=true answers a stored image with a presigned URL that the S3 server serves', async () => {
    const c = await startTestServer({ clock, env: s3Env(prefix, { IMAGE_REDIRECT: 'true' }) });
    try {
      await addChannels(c);
      const url = await finalImageUrl('a crane behind a redirect');
      const mjId = await taskWith(c, url);
      // Not stored yet: streamed through the gateway (and stored), as without a bucket.
      const first = await firstGet(c, mjId);
      const res = await image(c, mjId, { redirect: 'manual' });
      expect(res.status).toBe(302);
      expect(res.headers.get('cache-control')).toBe('no-store');
      const location = res.headers.get('location')!;
      const signed = new URL(location);
      expect(signed.pathname).toBe(`/mj-test/${prefix}/${mjId}.bin`);
      expect(signed.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
      expect(signed.searchParams.get('X-Amz-Expires')).toBe('3600');
      const fromBucket = await fetch(location);
      expect(fromBucket.status).toBe(200);
      expect(fromBucket.headers.get('content-type')).toBe('image/png');
      expect(sha(await fromBucket.arrayBuffer())).toBe(sha(first.bytes));
      // A stored image of another replica redirects too; an unknown id is still a 404.
      const fromA = await taskWith(a, await finalImageUrl('stored by A, redirected by C'));
      const bytesA = (await firstGet(a, fromA)).bytes;
      const followed = await image(c, fromA);
      expect(followed.status).toBe(200);
      expect(sha(await followed.arrayBuffer())).toBe(sha(bytesA));
      expect((await image(c, '9999999999999999')).status).toBe(404);
    } finally {
      await c.stop();
    }
  });

  test('renditions are kept in the bucket beside the original, shared by replicas, redirected with IMAGE_REDIRECT', async () => {
    const mjId = await taskWith(a, await finalImageUrl('a heron in quarters'));
    const before = new Set(await keysUnder(`${prefix}/`));
    const made = await image(a, `${mjId}?part=2&w=128`);
    expect(made.status).toBe(200);
    expect(made.headers.get('content-type')).toBe('image/webp');
    const webp = new Uint8Array(await made.arrayBuffer());
    // The original and the rendition (a name with `~` is stored under a hash of it), each .bin + .json.
    const added = async () => (await keysUnder(`${prefix}/`)).filter((k) => !before.has(k));
    await waitFor(async () => (await added()).length >= 4, 'the original and the rendition in the bucket');
    // Replica B answers the same rendition from the bucket (the same bytes, no re-render needed).
    const fromB = await image(b, `${mjId}?part=2&w=128`);
    expect(fromB.status).toBe(200);
    expect(sha(await fromB.arrayBuffer())).toBe(sha(webp));
    const c = await startTestServer({ clock, env: s3Env(prefix, { IMAGE_REDIRECT: 'true' }) });
    try {
      await addChannels(c);
      const res = await image(c, `${mjId}?part=2&w=128`, { redirect: 'manual' });
      expect(res.status).toBe(302);
      const location = res.headers.get('location')!;
      expect((await added()).map((k) => `/mj-test/${k}`)).toContain(new URL(location).pathname);
      expect(sha(await (await fetch(location)).arrayBuffer())).toBe(sha(webp));
    } finally {
      await c.stop();
    }
  });

  test('without room for local copies the bytes stream from the bucket, ranges included', async () => {
    const d = await startTestServer({ clock, env: s3Env(prefix, { IMAGE_CACHE_MAX_MB: '0' }) });
    try {
      await addChannels(d);
      const mjId = await taskWith(a, await finalImageUrl('streamed from the bucket'));
      const { res, bytes } = await firstGet(a, mjId);
      await taskWith(d, `${deadUrl}/expired.png`, mjId);
      const whole = await image(d, mjId);
      expect(whole.status).toBe(200);
      expect(headersOf(whole)).toEqual(headersOf(res));
      expect(sha(await whole.arrayBuffer())).toBe(sha(bytes));
      const part = await image(d, mjId, { headers: { range: 'bytes=3-40' } });
      expect(part.status).toBe(206);
      expect(part.headers.get('content-range')).toBe(`bytes 3-40/${bytes.length}`);
      expect(sha(await part.arrayBuffer())).toBe(sha(bytes.subarray(3, 41)));
      const head = await image(d, mjId, { method: 'HEAD' });
      expect(head.headers.get('content-length')).toBe(String(bytes.length));
    } finally {
      await d.stop();
    }
  });
});
