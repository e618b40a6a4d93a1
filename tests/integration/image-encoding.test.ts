import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FolderImageStore } from '../../src/images/folder-store.ts';
import { serveStored } from '../../src/images/serve.ts';
import { silentLogger } from '../../src/lib/logger.ts';
import { addChannel, addTask, addUser } from '../helpers/rows.ts';
import { startTestServer, type TestServer, waitFor } from '../helpers/server.ts';

/**
 * An upstream that answers an image gzip-encoded although we ask for `identity` (issue 14,
 * point 10): 50 MiB of zeros, PNG-typed, ~50 KB on the wire. The gateway forwards and stores the
 * encoded bytes with their Content-Encoding; it never inflates them into 50 MiB of its own.
 */

const MiB = 1024 * 1024;
const DECODED = 50 * MiB;
let bomb: Uint8Array<ArrayBuffer>;
let upstream: ReturnType<typeof Bun.serve>;
let upstreamGets = 0;
let srv: TestServer;
let userId: number;

const sha = (b: ArrayBuffer | Uint8Array) => new Bun.CryptoHasher('sha256').update(b).digest('hex');

/** The answer as it comes off the wire: no decoding on the test's side either. */
const raw = (path: string, init: RequestInit = {}) =>
  fetch(`${srv.url}${path}`, { ...init, decompress: false } as RequestInit);

async function bombTask(): Promise<string> {
  return (
    await addTask(srv.handle, {
      userId,
      imageUrl: `http://127.0.0.1:${upstream.port}/bomb.png`,
      status: 'SUCCESS',
      progress: '100%',
    })
  ).mjId;
}

/** The stored copy's data file, once the store has committed it (its sidecar is written last). */
function storedFile(mjId: string): string | null {
  const dir = srv.config.imageCacheDir!;
  return existsSync(join(dir, `${mjId}.json`)) ? join(dir, `${mjId}.bin`) : null;
}

beforeAll(async () => {
  bomb = Bun.gzipSync(new Uint8Array(DECODED), { level: 9 });
  upstream = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    fetch(req) {
      if (req.method === 'GET') upstreamGets++;
      return new Response(bomb, {
        headers: { 'content-type': 'image/png', 'content-encoding': 'gzip', etag: '"bomb-1"' },
      });
    },
  });
  srv = await startTestServer();
  // 127.0.0.1 is private: reachable only as a channel's host.
  await addChannel(srv.handle, `http://127.0.0.1:${upstream.port}`);
  userId = (await addUser(srv.handle)).id;
});

afterAll(async () => {
  await srv.stop();
  await upstream.stop(true);
});

describe('a gzip-encoded upstream image', () => {
  test('the first (streamed) answer is the encoded bytes with their Content-Encoding, and so is the stored copy', async () => {
    expect(bomb.byteLength).toBeLessThan(100 * 1024);
    const id = await bombTask();
    const first = await raw(`/mj/image/${id}`);
    expect(first.status).toBe(200);
    expect(first.headers.get('content-encoding')).toBe('gzip');
    expect(first.headers.get('content-type')).toBe('image/png');
    expect(first.headers.get('etag')).toBe('"bomb-1"');
    const firstBody = new Uint8Array(await first.arrayBuffer());
    expect(firstBody.byteLength).toBe(bomb.byteLength);
    expect(sha(firstBody)).toBe(sha(bomb));

    // The store holds the encoded bytes, not the decoded 50 MiB.
    const file = await waitFor(() => storedFile(id), 'the image stored');
    expect(statSync(file).size).toBe(bomb.byteLength);

    const gets = upstreamGets;
    const second = await raw(`/mj/image/${id}`);
    expect(second.status).toBe(200);
    expect(second.headers.get('content-encoding')).toBe('gzip');
    expect(second.headers.get('content-length')).toBe(String(bomb.byteLength));
    expect(second.headers.get('etag')).toBe('"bomb-1"');
    const secondBody = new Uint8Array(await second.arrayBuffer());
    expect(sha(secondBody)).toBe(sha(bomb));
    expect(upstreamGets).toBe(gets); // served from the store

    // What a client decodes is the image the upstream meant.
    expect(Bun.gunzipSync(secondBody).byteLength).toBe(DECODED);
  });

  test('ranges and validators of the stored copy count the encoded bytes', async () => {
    const id = await bombTask();
    await (await raw(`/mj/image/${id}`)).arrayBuffer();
    await waitFor(() => storedFile(id), 'the image stored');

    const part = await raw(`/mj/image/${id}`, { headers: { range: 'bytes=0-99' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-encoding')).toBe('gzip');
    expect(part.headers.get('content-range')).toBe(`bytes 0-99/${bomb.byteLength}`);
    expect(sha(new Uint8Array(await part.arrayBuffer()))).toBe(sha(bomb.subarray(0, 100)));

    const beyond = await raw(`/mj/image/${id}`, { headers: { range: `bytes=${bomb.byteLength}-` } });
    expect(beyond.status).toBe(416);
    expect(beyond.headers.get('content-encoding')).toBeNull();
    expect(await beyond.json()).toEqual({ error: 'range_not_satisfiable' });

    const same = await raw(`/mj/image/${id}`, { headers: { 'if-none-match': '"bomb-1"' } });
    expect(same.status).toBe(304);
  });

  test('a HEAD announces the encoded length, and its background fill stores the encoded bytes', async () => {
    const id = await bombTask();
    const head = await raw(`/mj/image/${id}`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-encoding')).toBe('gzip');
    expect(head.headers.get('content-length')).toBe(String(bomb.byteLength));
    const file = await waitFor(() => storedFile(id), 'the background fill stored');
    expect(statSync(file).size).toBe(bomb.byteLength);
    const gets = upstreamGets;
    const res = await raw(`/mj/image/${id}`);
    expect(res.headers.get('content-encoding')).toBe('gzip');
    expect(sha(new Uint8Array(await res.arrayBuffer()))).toBe(sha(bomb));
    expect(upstreamGets).toBe(gets);
  });

  test('the folder store keeps the encoding across a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mjgw-enc-'));
    try {
      const writer = new FolderImageStore(dir, 10 * MiB, silentLogger).begin(
        '7',
        { contentType: 'image/png', etag: '"e"', lastModified: null, contentEncoding: 'gzip' },
        bomb.byteLength,
      )!;
      await writer.write(bomb);
      expect(await writer.commit()).toBe(true);
      const img = (await new FolderImageStore(dir, 10 * MiB, silentLogger).get('7'))!;
      expect(img.contentEncoding).toBe('gzip');
      const res = serveStored(new Request('http://x/mj/image/7'), img, {});
      expect(res.headers.get('content-encoding')).toBe('gzip');
      expect(sha(new Uint8Array(await res.arrayBuffer()))).toBe(sha(bomb));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
