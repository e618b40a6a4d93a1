import { afterAll, expect, test } from 'bun:test';
import { FetchEventSource } from '../../packages/client/src/fetch-event-source.ts';
import { waitFor } from '../helpers/server.ts';

/**
 * The dashboard's EventSource: headers on every request, named events, and after a dropped
 * connection a reconnect that carries `Last-Event-ID` (what lets tRPC resume without gaps).
 */

const seen: Array<{ auth: string | null; lastEventId: string | null }> = [];
const server = Bun.serve({
  port: 0,
  hostname: '127.0.0.1',
  fetch(req) {
    seen.push({ auth: req.headers.get('authorization'), lastEventId: req.headers.get('last-event-id') });
    const n = seen.length;
    // Each connection sends one event and ends: the client must come back for the next.
    const body = `retry: 20\n: comment\nevent: hello\ndata: {"n":${n}}\n\nid: ev-${n}\ndata: line one\ndata: line two\n\n`;
    return new Response(body, { headers: { 'content-type': 'text/event-stream' } });
  },
});
afterAll(() => server.stop(true));

test('headers, events, ids, and a reconnect with Last-Event-ID', async () => {
  const es = new FetchEventSource(`http://127.0.0.1:${server.port}/sse`, { headers: { authorization: 'Bearer t0k' } });
  const named: string[] = [];
  const messages: Array<{ data: string; id: string }> = [];
  es.addEventListener('hello', (e) => named.push((e as MessageEvent).data));
  es.addEventListener('message', (e) =>
    messages.push({ data: (e as MessageEvent).data, id: (e as MessageEvent).lastEventId }),
  );
  await waitFor(() => messages.length >= 2, 'two connections');
  es.close();
  expect(es.readyState).toBe(FetchEventSource.CLOSED);
  expect(named.slice(0, 2)).toEqual(['{"n":1}', '{"n":2}']);
  expect(messages.slice(0, 2)).toEqual([
    { data: 'line one\nline two', id: 'ev-1' },
    { data: 'line one\nline two', id: 'ev-2' },
  ]);
  expect(seen.slice(0, 2)).toEqual([
    { auth: 'Bearer t0k', lastEventId: null },
    { auth: 'Bearer t0k', lastEventId: 'ev-1' },
  ]);
});

test('an answer that is not an event stream closes the source for good', async () => {
  const plain = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    fetch: () => new Response('{"error":1}', { status: 401 }),
  });
  try {
    const es = new FetchEventSource(`http://127.0.0.1:${plain.port}/`);
    let errors = 0;
    es.addEventListener('error', () => errors++);
    await waitFor(() => errors > 0, 'the error');
    expect(es.readyState).toBe(FetchEventSource.CLOSED);
  } finally {
    await plain.stop(true);
  }
});
