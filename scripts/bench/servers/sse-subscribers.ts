/**
 * SSE subscribers of the `live` group, in their own process so the gateway's CPU can be measured
 * alone: opens every stream listed in the JSON file argv[2] ([{ url, headers, scope }]) as the dashboard's
 * FetchEventSource does (a GET with the auth headers, `accept: text/event-stream`), counts the
 * data events and the distinct task ids each one receives, and answers GET /stats with them.
 * Prints its "listening on" line once every stream has its `connected` event (or after 60 s).
 */

interface Target {
  url: string;
  headers: Record<string, string>;
  scope: string;
}

interface Sub {
  scope: string;
  connected: boolean;
  events: number;
  bytes: number;
  ids: Set<number>;
  error: string | null;
}

const targets = JSON.parse(await Bun.file(process.argv[2] ?? '').text()) as Target[];
const subs: Sub[] = targets.map((t) => ({
  scope: t.scope,
  connected: false,
  events: 0,
  bytes: 0,
  ids: new Set(),
  error: null,
}));
const ID = /"id":(\d+)/;

function onMessage(sub: Sub, message: string): void {
  let event = '';
  let data = '';
  for (const line of message.split('\n')) {
    if (line.startsWith('event:')) event = line.slice(6).trim();
    else if (line.startsWith('data:')) data += line.slice(5).trimStart();
  }
  if (event === 'connected') sub.connected = true;
  if (event || !data) return;
  sub.events++;
  sub.bytes += data.length;
  const id = ID.exec(data)?.[1];
  if (id) sub.ids.add(Number(id));
}

async function open(target: Target, sub: Sub): Promise<void> {
  try {
    const res = await fetch(target.url, { headers: { accept: 'text/event-stream', ...target.headers } });
    if (res.status !== 200 || !res.body) throw new Error(`HTTP ${res.status}`);
    const decoder = new TextDecoder();
    let buf = '';
    for await (const chunk of res.body) {
      buf += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buf.indexOf('\n\n')) >= 0) {
        onMessage(sub, buf.slice(0, end));
        buf = buf.slice(end + 2);
      }
    }
    sub.error ??= 'stream ended';
  } catch (err) {
    sub.error = err instanceof Error ? err.message : String(err);
  }
}

// Opened in waves, so 1,000 connects do not all land in the same millisecond.
for (let i = 0; i < targets.length; i++) {
  void open(targets[i] as Target, subs[i] as Sub);
  if (i % 50 === 49) await Bun.sleep(20);
}
const deadline = Date.now() + 60_000;
while (subs.some((s) => !s.connected && !s.error) && Date.now() < deadline) await Bun.sleep(50);

const server = Bun.serve({
  port: 0,
  hostname: '127.0.0.1',
  fetch() {
    return Response.json({
      connected: subs.filter((s) => s.connected).length,
      errors: subs
        .filter((s) => s.error)
        .map((s) => s.error)
        .slice(0, 5),
      subs: subs.map((s) => ({ scope: s.scope, events: s.events, bytes: s.bytes, distinct: s.ids.size })),
    });
  },
});
console.log(`sse subscribers listening on http://127.0.0.1:${server.port}`);

export {};
