import { describe, expect, test } from 'bun:test';
import { failoverReasonOf } from '../../src/domain/relay/failover.ts';
import { callUpstream } from '../../src/upstream/http.ts';

/**
 * callUpstream tells "never connected" from "connected, then lost": only the first may go to
 * another channel (SPEC §15). Real sockets on the loopback.
 */

async function closedPort(): Promise<number> {
  const s = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response('x') });
  const port = s.port ?? 1;
  await s.stop(true);
  return port;
}

const req = { method: 'POST' as const, path: '/mj/submit/imagine', body: { prompt: 'x' }, timeoutMs: 5000 };

describe('callUpstream network stages', () => {
  test('a refused connection is stage connect, and may fail over', async () => {
    const out = await callUpstream(fetch, { baseUrl: `http://127.0.0.1:${await closedPort()}`, key: 'k' }, req);
    expect(out).toMatchObject({ kind: 'network', stage: 'connect' });
    expect(failoverReasonOf(out)).toBe('connect');
  });

  test('a connection closed after the request was read is stage exchange, and never fails over', async () => {
    const server = Bun.listen({
      hostname: '127.0.0.1',
      port: 0,
      socket: {
        data: (sock) => {
          sock.end();
        },
        open: () => {},
      },
    });
    try {
      const out = await callUpstream(fetch, { baseUrl: `http://127.0.0.1:${server.port}`, key: 'k' }, req);
      expect(out).toMatchObject({ kind: 'network', stage: 'exchange' });
      expect(failoverReasonOf(out)).toBeNull();
    } finally {
      server.stop(true);
    }
  });

  test('answers: 5xx, code 3 and code 23 may fail over; other codes and timeouts stand', () => {
    const res = (status: number, json: unknown) => ({ kind: 'response' as const, status, text: '', json });
    expect(failoverReasonOf(res(502, undefined))).toBe('http_5xx');
    expect(failoverReasonOf(res(200, { code: 3 }))).toBe('code_3');
    expect(failoverReasonOf(res(200, { code: 23 }))).toBe('code_23');
    expect(failoverReasonOf(res(200, { code: 24 }))).toBeNull();
    expect(failoverReasonOf(res(401, undefined))).toBeNull();
    expect(failoverReasonOf({ kind: 'timeout' })).toBeNull();
  });
});

describe('callUpstream answer size', () => {
  test('an answer past the cap is refused, declared or streamed, and a normal one is read whole', async () => {
    const big = 'x'.repeat(5000);
    const server = Bun.serve({
      port: 0,
      hostname: '127.0.0.1',
      fetch: (r) => {
        const path = new URL(r.url).pathname;
        if (path === '/declared') return new Response(big);
        // Its declared length is the compressed size, far under the cap; decoded it is past it.
        if (path === '/gzip')
          return new Response(Bun.gzipSync(new TextEncoder().encode(big)), { headers: { 'content-encoding': 'gzip' } });
        if (path === '/gzip-ok')
          return new Response(Bun.gzipSync(new TextEncoder().encode('{"code":1,"result":"2"}')), {
            headers: { 'content-encoding': 'gzip' },
          });
        if (path === '/streamed') {
          return new Response(
            new ReadableStream({
              pull(c) {
                c.enqueue(new TextEncoder().encode(big));
              },
            }),
          );
        }
        return Response.json({ code: 1, result: '1' });
      },
    });
    try {
      const target = { baseUrl: `http://127.0.0.1:${server.port}`, key: 'k' };
      const capped = { method: 'GET' as const, timeoutMs: 5000, maxAnswerBytes: 4096 };
      for (const path of ['/declared', '/streamed', '/gzip']) {
        const out = await callUpstream(fetch, target, { ...capped, path });
        expect(out).toMatchObject({
          kind: 'network',
          stage: 'exchange',
          message: 'upstream answer larger than 4096 bytes',
        });
      }
      const ok = await callUpstream(fetch, target, { ...capped, path: '/ok' });
      expect(ok).toMatchObject({ kind: 'response', status: 200, json: { code: 1, result: '1' } });
      const gzipped = await callUpstream(fetch, target, { ...capped, path: '/gzip-ok' });
      expect(gzipped).toMatchObject({ kind: 'response', status: 200, json: { code: 1, result: '2' } });
    } finally {
      await server.stop(true);
    }
  });
});
