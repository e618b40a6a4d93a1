import { describe, expect, test } from 'bun:test';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { cachedLookup, safeFetch } from '../../src/upstream/safe-fetch.ts';

describe('image store configuration', () => {
  test('defaults: images/ next to the database file, 2048 MB; none for a :memory: database unless named', () => {
    const c = loadConfig({ DATABASE_PATH: '/var/lib/mj/gw.db' });
    expect(c.imageCacheDir).toBe('/var/lib/mj/images');
    expect(c.imageCacheMaxBytes).toBe(2048 * 1024 * 1024);
    expect(loadConfig({}).imageCacheDir).toBe('data/images');
    expect(loadConfig({ DATABASE_PATH: ':memory:' }).imageCacheDir).toBeNull();
    expect(loadConfig({ DATABASE_PATH: ':memory:', IMAGE_CACHE_DIR: '/tmp/imgs' }).imageCacheDir).toBe('/tmp/imgs');
  });

  test('IMAGE_CACHE_MAX_MB takes fractions and 0 (no store); anything else names the variable', () => {
    expect(loadConfig({ IMAGE_CACHE_MAX_MB: '0.5' }).imageCacheMaxBytes).toBe(512 * 1024);
    expect(loadConfig({ IMAGE_CACHE_MAX_MB: '0' }).imageCacheMaxBytes).toBe(0);
    for (const bad of ['-1', 'lots', '1e9', '1.']) {
      expect(() => loadConfig({ IMAGE_CACHE_MAX_MB: bad })).toThrow(ConfigError);
      expect(() => loadConfig({ IMAGE_CACHE_MAX_MB: bad })).toThrow(/IMAGE_CACHE_MAX_MB/);
    }
  });
});

describe('cached DNS answers', () => {
  test('an answer is reused within its time, failures are not kept, and every cached address is still checked', async () => {
    let calls = 0;
    let answer: string[] | Error = ['93.184.216.34'];
    const lookup = cachedLookup(async () => {
      calls++;
      if (answer instanceof Error) throw answer;
      return answer;
    }, 60_000);
    expect(await lookup('cdn.test')).toEqual(['93.184.216.34']);
    expect(await lookup('cdn.test')).toEqual(['93.184.216.34']);
    expect(calls).toBe(1);
    answer = new Error('SERVFAIL');
    await expect(lookup('other.test')).rejects.toThrow('SERVFAIL');
    await expect(lookup('other.test')).rejects.toThrow('SERVFAIL');
    expect(calls).toBe(3);
    // A name whose (cached) answer includes a private address stays refused on every request.
    answer = ['93.184.216.34', '10.0.0.5'];
    const rebinding = cachedLookup(async () => answer as string[], 60_000);
    const fetched: string[] = [];
    const fakeFetch = (async (u: string | URL | Request) => {
      fetched.push(String(u));
      return new Response('x');
    }) as typeof fetch;
    for (let i = 0; i < 2; i++) {
      const r = await safeFetch('http://mixed.test/a.png', {
        fetch: fakeFetch,
        policy: { allowPrivate: false, trustedHosts: new Set() },
        lookup: rebinding,
      });
      expect(r.kind).toBe('blocked');
    }
    expect(fetched).toEqual([]);
  });
});
