/**
 * A bare Bun `fetch` → `Response` proxy (SPEC §12): the practical ceiling of any image proxy in
 * this runtime. GET /<path> streams <upstream>/<path>. Usage: bun raw-proxy.ts <upstream base URL>
 */
const [upstream] = process.argv.slice(2);
if (!upstream) {
  console.error('usage: raw-proxy.ts <upstream base URL>');
  process.exit(2);
}

const server = Bun.serve({
  port: 0,
  hostname: '127.0.0.1',
  idleTimeout: 120,
  async fetch(req) {
    const url = new URL(req.url);
    const res = await fetch(`${upstream}${url.pathname}`, {
      headers: { 'accept-encoding': 'identity' },
      signal: req.signal,
    });
    return new Response(res.body, { status: res.status, headers: res.headers });
  },
});
console.log(`raw proxy listening on http://127.0.0.1:${server.port}`);
