/** Request bodies and answers shared by the HTTP suites. */

/** A body of `total` bytes as a stream: fetch sends it chunked, without Content-Length. */
export function chunked(total: number): ReadableStream<Uint8Array> {
  const chunk = new Uint8Array(256 * 1024).fill(0x61);
  let sent = 0;
  return new ReadableStream({
    pull(c) {
      if (sent >= total) return c.close();
      const n = Math.min(chunk.length, total - sent);
      c.enqueue(chunk.subarray(0, n));
      sent += n;
    },
  });
}

/** Status and JSON body of an answer (null when the body is not JSON). */
export async function answer(res: Promise<Response>): Promise<{ status: number; body: unknown }> {
  const r = await res;
  return { status: r.status, body: await r.json().catch(() => null) };
}
