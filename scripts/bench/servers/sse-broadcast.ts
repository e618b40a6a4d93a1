/**
 * The floor of the `live` group: a bare Bun SSE broadcaster. GET /sse?scope=user:<id>|all holds
 * a text/event-stream; POST /publish { user, taskId, size } writes one event of about `size`
 * bytes, encoded once, to that user's streams and to every `all` stream. No auth, no database.
 */

const encoder = new TextEncoder();
const streams = new Map<string, Set<ReadableStreamDefaultController<Uint8Array>>>();
let seq = 0;

function subscribe(scope: string): Response {
  let controller: ReadableStreamDefaultController<Uint8Array> | null = null;
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
      let set = streams.get(scope);
      if (!set) streams.set(scope, (set = new Set()));
      set.add(c);
      c.enqueue(encoder.encode('event: connected\ndata: {}\n\n'));
    },
    cancel() {
      if (controller) streams.get(scope)?.delete(controller);
    },
  });
  return new Response(body, { headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' } });
}

function publish(user: number, taskId: number, size: number): number {
  const head = `{"id":${taskId},"user_id":${user},"pad":"`;
  const payload = `${head}${'x'.repeat(Math.max(0, size - head.length - 2))}"}`;
  const bytes = encoder.encode(`id: ${++seq}\ndata: ${payload}\n\n`);
  let n = 0;
  for (const scope of [`user:${user}`, 'all']) {
    for (const c of streams.get(scope) ?? []) {
      try {
        c.enqueue(bytes);
        n++;
      } catch {
        streams.get(scope)?.delete(c);
      }
    }
  }
  return n;
}

const server = Bun.serve({
  port: 0,
  hostname: '127.0.0.1',
  idleTimeout: 0,
  async fetch(req) {
    const url = new URL(req.url);
    if (req.method === 'GET' && url.pathname === '/sse') return subscribe(url.searchParams.get('scope') ?? 'all');
    if (req.method === 'POST' && url.pathname === '/publish') {
      const { user, taskId, size } = (await req.json()) as { user: number; taskId: number; size: number };
      return Response.json({ delivered: publish(user, taskId, size) });
    }
    return new Response('not found', { status: 404 });
  },
});
console.log(`sse broadcaster listening on http://127.0.0.1:${server.port}`);

export {};
