import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { connect, type Socket } from 'node:net';
import { createTestApiKey } from '../helpers/factories.ts';
import { ROOT_HEADERS, startTestServer, type TestServer } from '../helpers/server.ts';

/**
 * Issue 14 point 12 (RFC 9112 §9.6, lingering close): a client that writes its whole oversized body
 * as fast as it can and only then reads must find the 413, not a connection reset. Without the
 * drain the server closes with the body unread, the kernel answers the client's next bytes with a
 * reset, and the reset destroys the 413 the client had not read yet (EPIPE, no answer at all).
 */

const MiB = 1024 * 1024;
const REPEATS = 3;

let srv: TestServer;
let port: number;
let relayAuth: string;

beforeAll(async () => {
  srv = await startTestServer();
  port = Number(new URL(srv.url).port);
  relayAuth = createTestApiKey(srv.db, 1).headers.authorization ?? '';
});
afterAll(() => srv.stop());

function drainedOrClosed(s: Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      s.off('drain', done);
      s.off('close', done);
      resolve();
    };
    s.on('drain', done);
    s.on('close', done);
  });
}

/**
 * Writes the head and exactly `size` body bytes (chunked or with Content-Length) as fast as the
 * socket takes them without reading anything, then reads; resolves with all bytes received.
 */
function writeThenRead(
  head: string,
  size: number,
  chunked: boolean,
): Promise<{ received: string; error: string | null }> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.pause();
    let received = '';
    let error: string | null = null;
    s.on('data', (d: Buffer) => (received += d.toString('latin1')));
    s.on('error', (e: NodeJS.ErrnoException) => (error = e.code ?? e.message));
    s.on('close', () => resolve({ received, error }));
    s.on('connect', async () => {
      s.write(`${head}${chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${size}`}\r\n\r\n`);
      const block = Buffer.alloc(MiB, 0x61);
      for (let sent = 0; sent < size && !s.destroyed; ) {
        const n = Math.min(MiB, size - sent);
        const part = n === MiB ? block : block.subarray(0, n);
        const ok = chunked
          ? s.write(Buffer.concat([Buffer.from(`${n.toString(16)}\r\n`), part, Buffer.from('\r\n')]))
          : s.write(part);
        sent += n;
        if (!ok) await drainedOrClosed(s);
      }
      if (chunked && !s.destroyed) s.write('0\r\n\r\n');
      s.resume();
    });
  });
}

const surfaces = [
  {
    what: 'relay submit',
    head: () =>
      `POST /mj/submit/imagine HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${relayAuth}\r\nContent-Type: application/json\r\n`,
    body: { code: 4, description: 'request body too large', result: null, properties: {} },
  },
  {
    what: 'tRPC mutation',
    head: () =>
      `POST /trpc/token.create HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${ROOT_HEADERS.authorization}\r\nNew-Api-User: 1\r\nContent-Type: application/json\r\n`,
    body: {
      error: { message: 'request body too large', code: -32413, data: { code: 'PAYLOAD_TOO_LARGE', httpStatus: 413 } },
    },
  },
  {
    what: 'management REST',
    head: () =>
      `POST /api/mj/self HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${ROOT_HEADERS.authorization}\r\nNew-Api-User: 1\r\nContent-Type: application/json\r\n`,
    body: { success: false, message: 'request body too large' },
    // No REST route takes a body: only a declared length past the limit is a 413 there.
    declaredOnly: true,
  },
];

describe('an oversized body written in full before reading gets its 413', () => {
  for (const s of surfaces) {
    for (const chunked of s.declaredOnly ? [false] : [true, false]) {
      for (const size of [40 * MiB, 10.5 * MiB]) {
        test(`${s.what}: ${chunked ? 'chunked' : 'Content-Length'} ${size / MiB} MiB, ${REPEATS} times`, async () => {
          for (let i = 0; i < REPEATS; i++) {
            const { received, error } = await writeThenRead(s.head(), size, chunked);
            const end = received.indexOf('\r\n\r\n');
            expect({ statusLine: received.split('\r\n')[0] ?? '', error }).toEqual({
              statusLine: 'HTTP/1.1 413 Payload Too Large',
              error: null,
            });
            expect(JSON.parse(received.slice(end + 4))).toEqual(s.body);
          }
        }, 60_000);
      }
    }
  }
});
