/** A byte range resolved against a body size; `end` is inclusive as in Content-Range. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * Parses a single `Range: bytes=a-b` / `a-` / `-n`. Returns null when the header should be
 * ignored (absent, malformed, several ranges: a full 200 answer is allowed then) and
 * 'unsatisfiable' for a well-formed range outside the body (416).
 */
export function parseRange(header: string | null, size: number): ByteRange | 'unsatisfiable' | null {
  if (header === null) return null;
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m) return null;
  const [, a = '', b = ''] = m;
  if (a === '' && b === '') return null;
  if (a === '') {
    const n = Number(b);
    if (n === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(a);
  const end = b === '' ? size - 1 : Number(b);
  if (b !== '' && end < start) return null;
  if (start >= size) return 'unsatisfiable';
  return { start, end: Math.min(end, size - 1) };
}

/** True when `If-None-Match` lists this ETag (weak comparison, as RFC 9110 asks for this header) or `*`. */
export function etagMatches(ifNoneMatch: string | null, etag: string): boolean {
  if (ifNoneMatch === null) return false;
  const bare = etag.replace(/^W\//, '');
  return ifNoneMatch.split(',').some((raw) => {
    const t = raw.trim();
    return t === '*' || t.replace(/^W\//, '') === bare;
  });
}

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
