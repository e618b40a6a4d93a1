import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { gunzipSync } from 'node:zlib';
import { webRoutes } from '../../src/http/web.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

/** The dashboard's page and bundle as served (SPEC §14): no CDN, hashed assets, long cache. */

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer();
});
afterAll(() => srv.stop());

describe('GET / and /assets/*', () => {
  test('the page is HTML, revalidated every time, and loads only hashed same-origin assets', async () => {
    const res = await fetch(`${srv.url}/`, { headers: { accept: 'text/html' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    const html = await res.text();
    const assets = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    expect(assets.some((a) => /^\/assets\/main-[a-z0-9]+\.js$/.test(a))).toBe(true);
    expect(assets.some((a) => /^\/assets\/main-[a-z0-9]+\.css$/.test(a))).toBe(true);
    expect(html).not.toMatch(/https?:\/\//);

    for (const a of assets) {
      const plain = await fetch(`${srv.url}${a}`, { headers: { 'accept-encoding': 'identity' } });
      expect(plain.status).toBe(200);
      expect(plain.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      expect(plain.headers.get('content-encoding')).toBeNull();
      const body = new Uint8Array(await plain.arrayBuffer());
      const zipped = await fetch(`${srv.url}${a}`, { headers: { 'accept-encoding': 'gzip' }, decompress: false });
      expect(zipped.headers.get('content-encoding')).toBe('gzip');
      expect(new Uint8Array(gunzipSync(new Uint8Array(await zipped.arrayBuffer())))).toEqual(body);
    }
  });

  test('an unknown asset is a 404, not the page', async () => {
    const res = await fetch(`${srv.url}/assets/main-nothere.js`);
    expect(res.status).toBe(404);
    expect(res.headers.get('cache-control')).toBe('no-store');
  });
});

test('with a JSON index for API clients, only requests that accept HTML get the page', async () => {
  const web = webRoutes(srv.deps, {
    nonHtml: () => Response.json({ success: true, message: '', data: { name: 'mj-gateway' } }),
  });
  const api = await web.handle(new Request('http://local/', { headers: { accept: 'application/json' } }));
  expect(await api.json()).toEqual({ success: true, message: '', data: { name: 'mj-gateway' } });
  const browser = await web.handle(
    new Request('http://local/', { headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } }),
  );
  expect(browser.headers.get('content-type')).toBe('text/html; charset=utf-8');
  expect(browser.headers.get('vary')).toBe('accept');
});
