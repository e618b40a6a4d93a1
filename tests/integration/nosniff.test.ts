import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { connect } from 'node:net';
import { type Simulator, startSimulator } from '../../src/simulator/index.ts';
import { chunked } from '../helpers/bodies.ts';
import { createTestApiKey, createTestChannel, createTestUser, insertTask } from '../helpers/factories.ts';
import { ROOT_HEADERS, startTestServer, type TestServer } from '../helpers/server.ts';

/**
 * SPEC §10: "Every JSON answer carries `X-Content-Type-Options: nosniff`" (issue 14, point 10).
 * A sweep over every surface, successes and errors alike (the app's own refusals, tRPC's and
 * the routes' errors, preflights, streams), each asserted on the answer as it reaches the socket.
 */

const MiB = 1024 * 1024;
const SECRET = 'nosniff-secret';
let srv: TestServer;
let sim: Simulator;
let relayKey: Record<string, string>;
let simImageTask: string;
let blockedImageTask: string;
let refusedImageTask: string;
let upstream404ImageTask: string;

beforeAll(async () => {
  sim = await startSimulator({ secret: SECRET, stepMs: 0, imageSize: 64 });
  srv = await startTestServer({ env: { CORS_ORIGINS: 'https://app.example' } });
  createTestChannel(srv.db, sim.url, { key: SECRET });
  const closed = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response('') });
  const closedUrl = `http://127.0.0.1:${closed.port}`;
  await closed.stop(true);
  createTestChannel(srv.db, closedUrl);
  const user = createTestUser(srv.db, { quota: 100_000_000 });
  relayKey = createTestApiKey(srv.db, user.id, { unlimited: true }).headers;
  simImageTask = insertTask(srv.db, {
    userId: user.id,
    imageUrl: `${sim.url}/nowhere.png`,
    status: 'SUCCESS',
    progress: '100%',
  }).mjId;
  upstream404ImageTask = simImageTask;
  // 127.0.0.2 is private and no channel's host: the SSRF guard refuses it.
  blockedImageTask = insertTask(srv.db, {
    userId: user.id,
    imageUrl: 'http://127.0.0.2:9/x.png',
    status: 'SUCCESS',
    progress: '100%',
  }).mjId;
  refusedImageTask = insertTask(srv.db, {
    userId: user.id,
    imageUrl: `${closedUrl}/x.png`,
    status: 'SUCCESS',
    progress: '100%',
  }).mjId;
});

afterAll(async () => {
  await srv.stop();
  await sim.stop();
});

const json = { 'content-type': 'application/json' } as const;

/** The head of the answer to raw request bytes (requests fetch will not send: no Host, a huge declared length). */
function rawHead(head: string): Promise<{ status: number; headers: Record<string, string> }> {
  const port = Number(new URL(srv.url).port);
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let got = '';
    socket.on('data', (d) => {
      got += d.toString('latin1');
      const end = got.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.destroy();
      const [statusLine, ...lines] = got.slice(0, end).split('\r\n');
      resolve({
        status: Number(statusLine?.split(' ')[1]),
        headers: Object.fromEntries(
          lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]),
        ),
      });
    });
    socket.on('error', reject);
    socket.on('connect', () => socket.write(head));
  });
}

interface Case {
  what: string;
  /** The status the case is about (so a sweep that hits the wrong path cannot pass). */
  status: number;
  /** Whether the answer is JSON (else its own content type, still with nosniff). */
  isJson?: boolean;
  send: () => Promise<{ status: number; headers: { get(name: string): string | null } }>;
}

const get =
  (path: string, headers: Record<string, string> = {}) =>
  () =>
    fetch(`${srv.url}${path}`, { headers });
const post = (path: string, headers: Record<string, string>, body: BodyInit) => () =>
  fetch(`${srv.url}${path}`, { method: 'POST', headers, body });

const cases: Case[] = [
  // tRPC
  { what: 'tRPC query', status: 200, send: get('/trpc/user.self', ROOT_HEADERS) },
  { what: 'tRPC batch', status: 200, send: get('/trpc/user.self,status?batch=1&input={}', ROOT_HEADERS) },
  {
    what: 'tRPC mutation',
    status: 200,
    send: post('/trpc/token.create', { ...ROOT_HEADERS, ...json }, JSON.stringify({ name: 'k' })),
  },
  { what: 'tRPC 401', status: 401, send: get('/trpc/user.self') },
  { what: 'tRPC unknown procedure', status: 404, send: get('/trpc/nope.nothing', ROOT_HEADERS) },
  {
    what: 'tRPC bad input',
    status: 400,
    send: post('/trpc/token.create', { ...ROOT_HEADERS, ...json }, JSON.stringify({ name: 5 })),
  },
  { what: 'tRPC malformed JSON', status: 400, send: post('/trpc/token.create', { ...ROOT_HEADERS, ...json }, '{') },
  {
    what: 'tRPC batch of 17',
    status: 400,
    send: get(`/trpc/${Array(17).fill('status').join(',')}?batch=1`, ROOT_HEADERS),
  },
  {
    what: 'tRPC chunked 413',
    status: 413,
    send: post('/trpc/token.create', { ...ROOT_HEADERS, ...json }, chunked(11 * MiB)),
  },
  {
    what: 'tRPC declared 413',
    status: 413,
    send: async () => {
      const r = await rawHead(
        `POST /trpc/token.create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${20 * MiB}\r\n\r\n`,
      );
      return { status: r.status, headers: { get: (n: string) => r.headers[n] ?? null } };
    },
  },
  {
    what: 'tRPC subscription stream',
    status: 200,
    isJson: false,
    send: async () => {
      const ac = new AbortController();
      const res = await fetch(`${srv.url}/trpc/mj.onTaskUpdate`, { headers: ROOT_HEADERS, signal: ac.signal });
      ac.abort();
      return res;
    },
  },
  // REST
  { what: 'REST status', status: 200, send: get('/api/status') },
  { what: 'REST listing', status: 200, send: get('/api/mj/self', ROOT_HEADERS) },
  { what: 'REST listing 401', status: 401, send: get('/api/mj/self') },
  { what: 'REST listing 400', status: 400, send: get('/api/mj/self?page_size=abc', ROOT_HEADERS) },
  { what: 'REST unknown path', status: 404, send: get('/api/nothing/here', ROOT_HEADERS) },
  // Relay
  {
    what: 'relay submit',
    status: 200,
    send: () => post('/mj/submit/imagine', { ...relayKey, ...json }, JSON.stringify({ prompt: 'a fox' }))(),
  },
  {
    what: 'relay list-by-condition',
    status: 200,
    send: () => post('/mj/task/list-by-condition', { ...relayKey, ...json }, JSON.stringify({ ids: ['1'] }))(),
  },
  {
    what: 'relay mode prefix',
    status: 200,
    send: () => post('/fast/mj/task/list-by-condition', { ...relayKey, ...json }, JSON.stringify({ ids: [] }))(),
  },
  { what: 'relay 401', status: 401, send: get('/mj/task/1/fetch') },
  {
    what: 'relay malformed JSON',
    status: 400,
    send: () => post('/mj/submit/imagine', { ...relayKey, ...json }, '{')(),
  },
  {
    what: 'relay chunked 413',
    status: 413,
    send: () => post('/mj/submit/imagine', { ...relayKey, ...json }, chunked(11 * MiB))(),
  },
  // Images
  { what: 'image unknown id', status: 404, send: get('/mj/image/999999999') },
  { what: 'image upstream 404', status: 404, send: () => get(`/mj/image/${upstream404ImageTask}`)() },
  { what: 'image blocked', status: 403, send: () => get(`/mj/image/${blockedImageTask}`)() },
  { what: 'image upstream unreachable', status: 502, send: () => get(`/mj/image/${refusedImageTask}`)() },
  // The rest of the surface
  { what: 'healthz', status: 200, isJson: false, send: get('/healthz') },
  { what: 'openapi.json', status: 200, send: get('/openapi.json') },
  { what: 'JSON index', status: 200, send: get('/', { accept: 'application/json' }) },
  { what: 'metrics without auth', status: 401, send: get('/metrics') },
  { what: 'unknown route', status: 404, send: get('/no/such/route') },
  {
    what: 'CORS preflight',
    status: 204,
    isJson: false,
    send: () =>
      fetch(`${srv.url}/api/status`, {
        method: 'OPTIONS',
        headers: { origin: 'https://app.example', 'access-control-request-method': 'GET' },
      }),
  },
  {
    what: 'no usable Host',
    status: 400,
    send: async () => {
      const r = await rawHead('GET /api/status HTTP/1.0\r\n\r\n');
      return { status: r.status, headers: { get: (n: string) => r.headers[n] ?? null } };
    },
  },
];

describe('X-Content-Type-Options: nosniff on every answer', () => {
  for (const c of cases) {
    test(`${c.what} → ${c.status}`, async () => {
      const res = await c.send();
      expect(res.status).toBe(c.status);
      if (c.isJson !== false) expect(res.headers.get('content-type') ?? '').toStartWith('application/json');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    });
  }
});
