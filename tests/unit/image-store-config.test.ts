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

describe('image store in an S3-compatible bucket: configuration', () => {
  const S3 = {
    IMAGE_STORE: 's3://gallery-images/mj/originals/',
    S3_ENDPOINT: 'https://s3.eu-central-1.example.com/',
    S3_REGION: 'eu-central-1',
    S3_ACCESS_KEY_ID: 'AKIDEXAMPLE',
    S3_SECRET_ACCESS_KEY: 'very-secret-key-0123456789',
  };
  const failure = (env: Record<string, string>): string => {
    try {
      loadConfig(env);
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as Error).message;
    }
    throw new Error('expected a configuration error');
  };

  test('the folder store stays the default; IMAGE_STORE=s3://bucket/prefix reads every S3_ variable', () => {
    expect(loadConfig({}).s3).toBeNull();
    expect(loadConfig({}).imageRedirect).toBe(false);
    const c = loadConfig({ ...S3, IMAGE_REDIRECT: 'true' });
    expect(c.s3).toEqual({
      bucket: 'gallery-images',
      prefix: 'mj/originals/',
      endpoint: 'https://s3.eu-central-1.example.com',
      region: 'eu-central-1',
      accessKeyId: 'AKIDEXAMPLE',
      secretAccessKey: 'very-secret-key-0123456789',
    });
    expect(c.imageRedirect).toBe(true);
    const bare = loadConfig({ ...S3, IMAGE_STORE: 's3://gallery-images', S3_REGION: '' });
    expect(bare.s3?.prefix).toBe('');
    expect(bare.s3?.region).toBe('us-east-1');
  });

  test('a bad IMAGE_STORE or a missing S3_ variable stops start-up with one line naming it, never echoing a secret', () => {
    for (const bad of ['gallery-images', 's3://', 's3://UPPER/x', 'https://bucket/x', 's3://a/b c']) {
      const m = failure({ ...S3, IMAGE_STORE: bad });
      expect(m).toStartWith('invalid configuration: IMAGE_STORE must be s3://<bucket>/<prefix>');
    }
    for (const name of ['S3_ENDPOINT', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY'] as const) {
      const m = failure({ ...S3, [name]: '' });
      expect(m).toBe(`invalid configuration: ${name} is required with IMAGE_STORE=s3://…`);
    }
    expect(failure({ ...S3, S3_ENDPOINT: 'ftp://files.example' })).toBe(
      'invalid configuration: S3_ENDPOINT must be an http(s) URL',
    );
    expect(failure({ ...S3, S3_REGION: 'Not A Region' })).toContain('S3_REGION');
    expect(failure({ ...S3, IMAGE_REDIRECT: 'maybe' })).toContain('IMAGE_REDIRECT must be true or false');
    // S3 settings without IMAGE_STORE would be ignored silently: they are an error instead.
    const { IMAGE_STORE: _, ...withoutStore } = S3;
    expect(failure(withoutStore)).toBe(
      'invalid configuration: S3_ENDPOINT is set but IMAGE_STORE is not s3://<bucket>/<prefix>',
    );
    expect(failure({ IMAGE_REDIRECT: 'true' })).toBe(
      'invalid configuration: IMAGE_REDIRECT=true needs IMAGE_STORE=s3://<bucket>/<prefix>',
    );
    for (const env of [
      { ...S3, IMAGE_STORE: 'nope' },
      { ...S3, S3_ENDPOINT: 'x' },
      { ...S3, S3_REGION: '!' },
    ])
      expect(failure(env)).not.toContain(S3.S3_SECRET_ACCESS_KEY);
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
