import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { connect } from 'node:net';
import { createApp } from '../../src/app.ts';
import { createLogger } from '../../src/lib/logger.ts';
import { chunked } from '../helpers/bodies.ts';
import { createTestApiKey } from '../helpers/factories.ts';
import { ROOT_HEADERS, startTestServer, type TestServer, waitFor } from '../helpers/server.ts';

/**
 * SPEC §10 over real sockets: bodies past 10 MiB with or without Content-Length, malformed
 * requests, and tRPC batches get the surface's JSON with CORS, and no error-level log line.
 */

const MiB = 1024 * 1024;
const RELAY_413 = { code: 4, description: 'request body too large', result: null, properties: {} };
const TRPC_413 = {
  error: { message: 'request body too large', code: -32413, data: { code: 'PAYLOAD_TOO_LARGE', httpStatus: 413 } },
};

let srv: TestServer;
let port: number;
let relayKey: Record<string, string>;
const logLines: string[] = [];

beforeAll(async () => {
  srv = await startTestServer({ logger: createLogger('debug', {}, (l) => logLines.push(l)) });
  port = Number(new URL(srv.url).port);
  relayKey = createTestApiKey(srv.db, 1).headers;
});
afterAll(() => srv.stop());

const errorLines = () => logLines.filter((l) => JSON.parse(l).level === 'error');

/** Send raw bytes, then read until the server closes (or `idleMs` after the last byte). */
function rawExchange(head: string, bodyBytes = 0): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let got = '';
    socket.on('data', (d) => {
      got += d.toString('latin1');
      // One answer is all we wait for.
      const end = got.indexOf('\r\n\r\n');
      const len = /content-length: (\d+)/i.exec(got)?.[1];
      if (end >= 0 && (len === undefined || got.length >= end + 4 + Number(len))) socket.destroy();
    });
    socket.on('close', () => resolve(got));
    socket.on('error', () => {});
    socket.on('connect', async () => {
      socket.write(head);
      const block = Buffer.alloc(MiB, 0x61);
      for (let sent = 0; sent < bodyBytes && !socket.destroyed; sent += MiB) {
        if (!socket.write(block)) await new Promise((r) => socket.once('drain', r));
      }
    });
  });
}

function parseRaw(raw: string): { status: number; headers: Record<string, string>; body: string } {
  const end = raw.indexOf('\r\n\r\n');
  const [statusLine, ...lines] = raw.slice(0, end).split('\r\n');
  const headers = Object.fromEntries(
    lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]),
  );
  return { status: Number(statusLine?.split(' ')[1]), headers, body: raw.slice(end + 4) };
}

describe('request bodies over 10 MiB', () => {
  const cases = [
    { what: 'relay submit', path: '/mj/submit/imagine', headers: () => relayKey, body: RELAY_413 },
    { what: 'tRPC mutation', path: '/trpc/token.create', headers: () => ROOT_HEADERS, body: TRPC_413 },
  ];
  for (const c of cases) {
    for (const size of [10 * MiB + 1, 10.5 * MiB, 12 * MiB, 40 * MiB]) {
      test(`${c.what}: chunked ${(size / MiB).toFixed(2)} MiB → JSON 413 with CORS`, async () => {
        const res = await fetch(`${srv.url}${c.path}`, {
          method: 'POST',
          headers: { ...c.headers(), 'content-type': 'application/json' },
          body: chunked(size),
          duplex: 'half',
        } as RequestInit);
        expect(res.status).toBe(413);
        expect(await res.json()).toEqual(c.body);
        expect(res.headers.get('access-control-allow-origin')).toBe('*');
      });
    }
  }

  test('exactly 10 MiB chunked is read (and then judged on its content)', async () => {
    const res = await fetch(`${srv.url}/mj/submit/imagine`, {
      method: 'POST',
      headers: { ...relayKey, 'content-type': 'application/json' },
      body: chunked(10 * MiB),
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(400);
    expect((await res.json()).description).toBe('request body is not valid JSON');
  });

  for (const declared of [11 * MiB, 200 * MiB, 5e9]) {
    test(`a declared Content-Length of ${declared} is a JSON 413 (past Bun's own limit too) once the client pauses: the drain before it is bounded`, async () => {
      const raw = await rawExchange(
        `POST /mj/submit/imagine HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${declared}\r\nContent-Type: application/json\r\n\r\n`,
        MiB,
      );
      const res = parseRaw(raw);
      expect(res.status).toBe(413);
      expect(JSON.parse(res.body)).toEqual(RELAY_413);
      expect(res.headers['access-control-allow-origin']).toBe('*');
    });
  }

  test('a chunked body that a route never reads is not drained: the connection is closed after the answer', async () => {
    const raw = await rawExchange(
      `POST /api/nope HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n100000\r\n`,
      64 * MiB,
    );
    const res = parseRaw(raw);
    expect(res.status).toBe(404);
    expect(res.headers.connection).toBe('close');
  });
});

describe('every route that takes a body reads it within the limit', () => {
  // Elysia's own parsers read a chunked body without end (Bun's limit is lifted): a route with a
  // body must say `parse: 'none'` and read through src/http/body.ts (readBodyText / readBodyBytes).
  test('no POST/PUT/PATCH/DELETE route lets Elysia parse its body', () => {
    const routes = createApp(srv.deps).routes.filter((r) => !['GET', 'HEAD', 'OPTIONS'].includes(r.method));
    expect(routes.length).toBeGreaterThan(20);
    const parsing = routes
      .filter((r) => !((r.hooks as { parse?: { fn?: unknown }[] }).parse ?? []).some((h) => h.fn === 'none'))
      .map((r) => `${r.method} ${r.path}`);
    expect(parsing).toEqual([]);
  });
});

describe('malformed requests', () => {
  test('no usable Host header: JSON 400 in the surface shape, with CORS', async () => {
    for (const [head, body] of [
      [
        'GET /mj/task/1/fetch HTTP/1.0\r\n\r\n',
        { code: 4, description: 'malformed request: invalid Host header or URL', result: null, properties: {} },
      ],
      [
        'GET /api/mj/self HTTP/1.1\r\nHost: a b\r\n\r\n',
        { success: false, message: 'malformed request: invalid Host header or URL' },
      ],
      [
        'GET /trpc/status HTTP/1.1\r\nHost: \r\n\r\n',
        {
          error: {
            message: 'malformed request: invalid Host header or URL',
            code: -32600,
            data: { code: 'BAD_REQUEST', httpStatus: 400 },
          },
        },
      ],
    ] as const) {
      const res = parseRaw(await rawExchange(head));
      expect(res.status).toBe(400);
      expect(JSON.parse(res.body)).toEqual(body);
      expect(res.headers['access-control-allow-origin']).toBe('*');
    }
  });

  test('a short Host header (1 to 3 characters) still reaches tRPC', async () => {
    for (const host of ['x', 'api']) {
      const res = parseRaw(await rawExchange(`GET /trpc/status HTTP/1.1\r\nHost: ${host}\r\n\r\n`));
      expect(res.status).toBe(200);
      expect(JSON.parse(res.body).result.data.version).toBe('test');
    }
  });

  test('/healthz still answers an HTTP/1.0 probe without Host', async () => {
    const res = parseRaw(await rawExchange('GET /healthz HTTP/1.0\r\n\r\n'));
    expect(res.status).toBe(200);
    expect(res.body).toBe('ok');
  });

  test('a broken chunked body while the relay reads it: refused, and logged below error', async () => {
    const raw = await rawExchange(
      `POST /mj/submit/imagine HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${relayKey.authorization}\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`,
    );
    // Bun itself answers a broken chunk encoding (a bare 400) and drops the connection.
    expect(parseRaw(raw).status).toBe(400);
  });

  test("a declared body cut short by the client going away: refused as the client's doing, below error", async () => {
    const before = logLines.length;
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => {});
    socket.on('connect', () => {
      socket.write(
        `POST /mj/submit/imagine HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${relayKey.authorization}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"prompt":`,
      );
      setTimeout(() => socket.destroy(), 20);
    });
    const line = await waitFor(
      () => logLines.slice(before).find((l) => l.includes('request body refused')),
      'the refusal log line',
    );
    expect(JSON.parse(line)).toMatchObject({
      level: 'info',
      reason: 'request body could not be read',
      path: '/mj/submit/imagine',
    });
  });

  test('errors of /api/mj paths keep the management shape', async () => {
    const res = await fetch(`${srv.url}/api/mj/nope`, { headers: ROOT_HEADERS });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ success: false, message: 'not found' });
  });

  test('none of the above wrote an error-level log line', () => {
    expect(errorLines()).toEqual([]);
  });
});

describe('tRPC batches (at most 16 calls)', () => {
  const batch = (n: number) => {
    const paths = Array.from({ length: n }, () => 'status').join(',');
    const input = encodeURIComponent(JSON.stringify(Object.fromEntries(Array.from({ length: n }, (_, i) => [i, {}]))));
    return fetch(`${srv.url}/trpc/${paths}?batch=1&input=${input}`, { headers: ROOT_HEADERS });
  };

  test('16 calls are served', async () => {
    const res = await batch(16);
    expect(res.status).toBe(200);
    expect(await res.json()).toHaveLength(16);
  });

  test('17 calls are a JSON 400 naming the limit, with CORS', async () => {
    const res = await batch(17);
    expect(res.status).toBe(400);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    const body = await res.json();
    expect(body.error.data).toMatchObject({ code: 'BAD_REQUEST', httpStatus: 400 });
    expect(body.error.message).toBe('batch of 17 calls exceeds the limit of 16 calls per request');
  });

  test('a POST batch is limited the same way', async () => {
    const paths = Array.from({ length: 40 }, () => 'user.regenerateAccessToken').join(',');
    const res = await fetch(`${srv.url}/trpc/${paths}?batch=1`, {
      method: 'POST',
      headers: { ...ROOT_HEADERS, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(res.status).toBe(400);
    expect((await res.json()).error.message).toContain('limit of 16');
    // Nothing ran: the root token still works.
    expect((await fetch(`${srv.url}/api/mj/self`, { headers: ROOT_HEADERS })).status).toBe(200);
  });
});
