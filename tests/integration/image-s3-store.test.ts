import { afterAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3ImageStore, type S3StoreOptions } from '../../src/images/s3-store.ts';
import { createLogger, silentLogger } from '../../src/lib/logger.ts';
import { bucketClient, testBucket, uniquePrefix } from '../helpers/s3.ts';

/**
 * S3ImageStore on a real S3 server: one writer per key, nothing visible before a complete
 * commit (an abort or a short image sends nothing), another replica's store sees a commit, and
 * delete removes both objects.
 */

const bucket = bucketClient();
const meta = { contentType: 'image/png', etag: '"e"', lastModified: 'Tue, 01 Dec 2026 00:00:00 GMT' };

const local = mkdtempSync(join(tmpdir(), 'mjgw-s3-store-'));
let stores = 0;

function storeOn(prefix: string, extra: Partial<S3StoreOptions> = {}): S3ImageStore {
  const b = testBucket();
  return new S3ImageStore(
    {
      ...b,
      region: 'us-east-1',
      prefix: `${prefix}/`,
      localMaxBytes: 1 << 20,
      localDir: join(local, String(++stores)),
      ...extra,
    },
    silentLogger,
  );
}

afterAll(() => rmSync(local, { recursive: true, force: true }));

const keys = async (p: string) => ((await bucket.list({ prefix: p })).contents ?? []).map((c) => c.key).sort();

describe('S3 image store', () => {
  test('one writer per key; a commit is visible to another replica with its metadata; delete removes it', async () => {
    const prefix = uniquePrefix('s3-store');
    const store = storeOn(prefix);
    const other = storeOn(prefix);
    const first = store.begin('1234', meta, 4)!;
    expect(store.begin('1234', meta, 4)).toBeNull();
    await first.write(new Uint8Array([1, 2, 3, 4]));
    expect(await other.get('1234')).toBeNull(); // nothing visible before the commit
    const committing = first.commit();
    expect(store.begin('1234', meta, 4)).toBeNull();
    expect(await committing).toBe(true);
    expect(store.begin('1234', meta, 4)).toBeNull(); // already stored
    expect(await keys(`${prefix}/`)).toEqual([`${prefix}/1234.bin`, `${prefix}/1234.json`]);
    const seen = (await other.get('1234'))!;
    expect({ ...seen, body: undefined, presignedUrl: undefined }).toMatchObject({
      ...meta,
      contentEncoding: null,
      size: 4,
      remote: false,
    });
    expect(new Uint8Array(await seen.body.arrayBuffer())).toEqual(new Uint8Array([1, 2, 3, 4]));
    // Concurrent lookups of one key share one request and one local copy.
    const [x, y] = await Promise.all([storeOn(prefix).get('1234'), other.get('1234')]);
    expect(x?.size).toBe(4);
    expect(y).toBe(seen);
    expect(store.totalBytes).toBe(4);
    store.delete('1234');
    await (async () => {
      // s3rver may fail a listing while it deletes: that counts as not yet.
      for (let i = 0; i < 100 && (await keys(`${prefix}/`).catch(() => ['?'])).length > 0; i++) await Bun.sleep(20);
    })();
    expect(await keys(`${prefix}/`)).toEqual([]);
    expect(await storeOn(prefix).get('1234')).toBeNull();
    expect(await store.get('1234')).toBeNull();
    expect(store.totalBytes).toBe(0);
  });

  test('an abort or a short image sends nothing to the bucket and leaves no spool behind', async () => {
    const prefix = uniquePrefix('s3-abort');
    const dir = join(local, 'abort');
    const store = storeOn(prefix, { localDir: dir });
    const aborted = store.begin('5555', meta, 10)!;
    await aborted.write(new Uint8Array(5));
    aborted.abort();
    expect(await aborted.commit()).toBe(false);
    const short = store.begin('6666', meta, 10)!;
    await short.write(new Uint8Array([9]));
    expect(await short.commit()).toBe(false);
    expect(await keys(`${prefix}/`)).toEqual([]);
    expect(await store.get('5555')).toBeNull();
    expect(await store.get('6666')).toBeNull();
    const spool = join(dir, 'tmp');
    for (let i = 0; i < 100 && readdirSync(spool).length > 0; i++) await Bun.sleep(20);
    expect(readdirSync(spool)).toEqual([]);
    // The key is free again after a failed write.
    const again = store.begin('5555', meta, 1);
    expect(again).not.toBeNull();
    again?.abort();
  });

  test('a bucket that does not answer: lookups miss, writes fail, the log says so and never shows the secret', async () => {
    const closed = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response('') });
    const endpoint = `http://127.0.0.1:${closed.port}`;
    await closed.stop(true);
    const lines: string[] = [];
    const secret = 'do-not-print-this-secret-0123456789';
    const store = new S3ImageStore(
      {
        endpoint,
        bucket: 'mj-test',
        region: 'us-east-1',
        accessKeyId: 'S3RVER',
        secretAccessKey: secret,
        prefix: 'down/',
        localMaxBytes: 1 << 20,
        localDir: join(local, 'down'),
      },
      createLogger('debug', {}, (line) => lines.push(line)),
    );
    expect(await store.check()).toBe(false);
    expect(await store.get('7777')).toBeNull();
    const w = store.begin('7777', meta, 2)!;
    await w.write(new Uint8Array([1, 2]));
    expect(await w.commit()).toBe(false);
    expect(lines.length).toBeGreaterThanOrEqual(3);
    expect(lines.join('\n')).toContain('the bucket does not answer');
    for (const line of lines) expect(line).not.toContain(secret);
    expect(await storeOn(uniquePrefix('up')).check()).toBe(true);
  });
});
