/**
 * The two pieces of HTTP caching every byte server here needs (the simulator's images and the
 * gateway's image store): one `Range` header resolved against a size, and `If-None-Match`.
 */

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
