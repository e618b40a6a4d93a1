import { etagMatches, parseRange } from '../lib/http-ranges.ts';

/** How to produce the bytes of one representation: in memory, or generated on the fly. */
export interface ByteSource {
  size: number;
  contentType: string;
  etag: string;
  lastModified: string;
  /** Body for bytes start..end inclusive. */
  body(start: number, end: number): BodyInit;
}

/**
 * Answers a GET/HEAD for a byte source with conditional and range support:
 * 304 on a matching If-None-Match, 206 + Content-Range for one satisfiable range, 416 otherwise.
 */
export function serveBytes(req: Request, src: ByteSource): Response {
  const headers = new Headers({
    'Content-Type': src.contentType,
    ETag: src.etag,
    'Last-Modified': src.lastModified,
    'Accept-Ranges': 'bytes',
    'Cache-Control': 'public, max-age=86400',
  });
  if (etagMatches(req.headers.get('if-none-match'), src.etag)) return new Response(null, { status: 304, headers });
  const range = parseRange(req.headers.get('range'), src.size);
  if (range === 'unsatisfiable') {
    headers.set('Content-Range', `bytes */${src.size}`);
    headers.delete('Content-Type');
    return new Response(null, { status: 416, headers });
  }
  const head = req.method === 'HEAD';
  if (range === null) {
    headers.set('Content-Length', String(src.size));
    return new Response(head || src.size === 0 ? null : src.body(0, src.size - 1), { status: 200, headers });
  }
  headers.set('Content-Length', String(range.end - range.start + 1));
  headers.set('Content-Range', `bytes ${range.start}-${range.end}/${src.size}`);
  return new Response(head ? null : src.body(range.start, range.end), { status: 206, headers });
}

const CHUNK = 1 << 20;
const ZEROS = new Uint8Array(CHUNK);

/**
 * Streams `prefix` followed by zero filler, bytes start..end inclusive, one 1 MiB chunk per pull:
 * memory stays flat whatever the size (the filler chunk is shared; it never changes).
 */
export function fillerStream(prefix: Uint8Array, start: number, end: number): ReadableStream<Uint8Array> {
  let pos = start;
  const stop = end + 1;
  return new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (pos >= stop) {
          controller.close();
          return;
        }
        const n = Math.min(CHUNK, stop - pos);
        if (pos < prefix.length) {
          const chunk = new Uint8Array(n);
          chunk.set(prefix.subarray(pos, Math.min(prefix.length, pos + n)));
          controller.enqueue(chunk);
        } else {
          controller.enqueue(n === CHUNK ? ZEROS : ZEROS.subarray(0, n));
        }
        pos += n;
      },
    },
    { highWaterMark: 0 },
  );
}
