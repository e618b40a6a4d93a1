import { describe, expect, test } from 'bun:test';
import { checkTarget, hostKey, pinnedRequest, type SafeFetchPolicy, safeFetch } from '../../src/upstream/safe-fetch.ts';
import { isPublicAddress, parseIPv6 } from '../../src/upstream/safe-fetch-ip.ts';

const strict: SafeFetchPolicy = { allowPrivate: false, trustedHosts: new Set() };

describe('IP classification', () => {
  const notPublic = [
    '127.0.0.1',
    '127.255.255.254',
    '0.0.0.0',
    '0.1.2.3',
    '10.0.0.1',
    '10.255.255.255',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '100.127.255.255',
    '224.0.0.1',
    '239.255.255.250',
    '240.0.0.1',
    '255.255.255.255',
    '192.0.0.8',
    '192.0.2.1',
    '198.18.0.1',
    '198.19.255.255',
    '198.51.100.7',
    '203.0.113.9',
    '::',
    '::1',
    '[::1]',
    'fc00::1',
    'fd12:3456:789a::1',
    'fe80::1',
    'fe80::1%eth0',
    'febf::1',
    'fec0::1',
    'ff02::1',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::ffff:10.1.2.3',
    '::ffff:169.254.169.254',
    '::127.0.0.1',
    '::ffff:0:127.0.0.1',
    '64:ff9b::10.0.0.1',
    '64:ff9b:1::1',
    '100::1',
    '2001::1',
    '2001:db8::1',
    '2002:7f00:1::',
    '2002:c0a8:101::1',
    '3fff::1',
    'localhost',
    'example.com',
    '',
    '1.2.3',
    '256.1.1.1',
    '01.2.3.4x',
  ];
  for (const a of notPublic) test(`${JSON.stringify(a)} is not public`, () => expect(isPublicAddress(a)).toBe(false));

  const isPublic = [
    '8.8.8.8',
    '1.1.1.1',
    '93.184.216.34',
    '172.15.255.255',
    '172.32.0.1',
    '100.63.255.255',
    '100.128.0.1',
    '192.169.0.1',
    '169.253.1.1',
    '223.255.255.255',
    '2606:4700:4700::1111',
    '2a00:1450:4001:82a::200e',
    '[2606:4700::1]',
    '::ffff:8.8.8.8',
    '64:ff9b::808:808',
    '2002:808:808::1',
    '2001:4860:4860::8888',
  ];
  for (const a of isPublic) test(`${a} is public`, () => expect(isPublicAddress(a)).toBe(true));

  test('IPv6 parsing expands :: and embedded IPv4', () => {
    expect(parseIPv6('::ffff:1.2.3.4')).toEqual([0, 0, 0, 0, 0, 0xffff, 0x102, 0x304]);
    expect(parseIPv6('2001:db8::8:800:200c:417a')).toEqual([0x2001, 0xdb8, 0, 0, 8, 0x800, 0x200c, 0x417a]);
    expect(parseIPv6('1:2:3:4:5:6:7:8')).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(parseIPv6('not-an-ip')).toBeNull();
  });
});

describe('SSRF target check', () => {
  const lookupTo = (addresses: string[]) => async () => addresses;

  test('only http and https', async () => {
    for (const u of ['file:///etc/passwd', 'ftp://8.8.8.8/x', 'gopher://8.8.8.8/']) {
      expect((await checkTarget(new URL(u), { allowPrivate: true, trustedHosts: new Set() })).ok).toBe(false);
    }
  });

  test('IP literals in any notation the URL parser accepts are classified', async () => {
    for (const u of [
      'http://127.0.0.1/',
      'http://2130706433/',
      'http://0x7f.1/',
      'http://[::1]:8080/',
      'http://[::ffff:127.0.0.1]/',
      'http://169.254.169.254/latest/meta-data',
    ]) {
      expect((await checkTarget(new URL(u), strict, lookupTo(['8.8.8.8']))).ok).toBe(false);
    }
    expect(await checkTarget(new URL('http://8.8.8.8/x.png'), strict)).toEqual({ ok: true, address: null });
  });

  test('names must resolve to public addresses only, and the checked address is pinned', async () => {
    expect((await checkTarget(new URL('http://cdn.test/x'), strict, lookupTo(['10.0.0.5']))).ok).toBe(false);
    expect((await checkTarget(new URL('http://cdn.test/x'), strict, lookupTo(['8.8.8.8', '::1']))).ok).toBe(false);
    expect(await checkTarget(new URL('http://cdn.test/x'), strict, lookupTo(['8.8.8.8', '1.1.1.1']))).toEqual({
      ok: true,
      address: '8.8.8.8',
    });
    const failing = async () => {
      throw new Error('ENOTFOUND');
    };
    expect((await checkTarget(new URL('http://nowhere.test/x'), strict, failing)).ok).toBe('error');
  });

  test('a channel host is trusted by hostname and port, and allowPrivate lets anything http(s) through', async () => {
    const policy: SafeFetchPolicy = { allowPrivate: false, trustedHosts: new Set(['127.0.0.1:8080', 'sim.local:80']) };
    expect((await checkTarget(new URL('http://127.0.0.1:8080/images/a.png'), policy)).ok).toBe(true);
    expect((await checkTarget(new URL('http://127.0.0.1:8081/images/a.png'), policy)).ok).toBe(false);
    expect((await checkTarget(new URL('http://SIM.local/a.png'), policy, lookupTo(['10.0.0.1']))).ok).toBe(true);
    expect((await checkTarget(new URL('http://10.0.0.1/'), { allowPrivate: true, trustedHosts: new Set() })).ok).toBe(
      true,
    );
    expect(hostKey(new URL('https://Example.com/x'))).toBe('example.com:443');
    expect(hostKey(new URL('http://[::1]:81/x'))).toBe('[::1]:81');
  });

  test('a pinned request connects to the checked address and names the host', async () => {
    const seen: Array<{ url: string; host: string | undefined; tls: unknown }> = [];
    const fakeFetch = (async (url: string, init: RequestInit & { tls?: unknown }) => {
      seen.push({ url, host: (init.headers as Record<string, string>).host, tls: init.tls });
      return new Response('img', { status: 200 });
    }) as unknown as typeof fetch;
    const r = await safeFetch('https://cdn.test:8443/a.png?x=1', {
      fetch: fakeFetch,
      policy: strict,
      lookup: lookupTo(['93.184.216.34']),
    });
    expect(r.kind).toBe('response');
    expect(seen).toEqual([
      { url: 'https://93.184.216.34:8443/a.png?x=1', host: 'cdn.test:8443', tls: { serverName: 'cdn.test' } },
    ]);
    expect(pinnedRequest(new URL('http://cdn.test/a'), '2606:4700::1')).toEqual({
      url: 'http://[2606:4700::1]/a',
      host: 'cdn.test',
      serverName: null,
    });
  });

  test('every redirect hop is checked again, and at most 3 are followed', async () => {
    const hops: string[] = [];
    const redirecting = (to: (n: number) => string) =>
      (async (url: string) => {
        hops.push(url);
        return new Response(null, { status: 302, headers: { location: to(hops.length) } });
      }) as unknown as typeof fetch;
    const toPrivate = await safeFetch('http://8.8.8.8/a', {
      fetch: redirecting(() => 'http://169.254.169.254/latest'),
      policy: strict,
    });
    expect(toPrivate.kind).toBe('blocked');
    expect(hops).toEqual(['http://8.8.8.8/a']);
    hops.length = 0;
    const loop = await safeFetch('http://8.8.8.8/a', { fetch: redirecting((n) => `/hop${n}`), policy: strict });
    expect(loop.kind).toBe('too_many_redirects');
    expect(hops).toEqual(['http://8.8.8.8/a', 'http://8.8.8.8/hop1', 'http://8.8.8.8/hop2', 'http://8.8.8.8/hop3']);
  });
});

describe('pinning over TLS', () => {
  // A real TLS server with a certificate for a name that does not resolve: connecting to the
  // address while verifying the name only works if the TLS server name is passed through.
  // openssl ships with the machine image (Debian base); a missing one fails here rather than skipping.
  const openssl = Bun.which('openssl') ?? 'openssl';
  test('https to the pinned address verifies the certificate for the original name', async () => {
    const dir = (await import('node:fs')).mkdtempSync(`${(await import('node:os')).tmpdir()}/mjgw-tls-`);
    const gen = Bun.spawnSync(
      [
        openssl,
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        `${dir}/k.pem`,
        '-out',
        `${dir}/c.pem`,
        '-days',
        '1',
        '-subj',
        '/CN=img.example.test',
        '-addext',
        'subjectAltName=DNS:img.example.test',
      ],
      { stderr: 'ignore' },
    );
    expect(gen.exitCode).toBe(0);
    const cert = await Bun.file(`${dir}/c.pem`).text();
    const server = Bun.serve({
      port: 0,
      hostname: '127.0.0.1',
      tls: { cert, key: await Bun.file(`${dir}/k.pem`).text() },
      fetch: (req) => new Response(`host=${req.headers.get('host')}`),
    });
    try {
      const p = pinnedRequest(new URL(`https://img.example.test:${server.port}/a.png`), '127.0.0.1');
      const res = await fetch(p.url, {
        headers: { host: p.host },
        tls: { ca: cert, serverName: p.serverName ?? undefined },
      });
      expect(await res.text()).toBe(`host=img.example.test:${server.port}`);
    } finally {
      await server.stop(true);
      (await import('node:fs')).rmSync(dir, { recursive: true, force: true });
    }
  });
});
