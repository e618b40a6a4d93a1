import { etagMatches, parseRange } from '../lib/http-ranges.ts';
import type { StoredImage } from './store.ts';

/**
 * Answers GET/HEAD for a stored image as an HTTP cache would: 304 on a matching If-None-Match
 * (or, without one, an If-Modified-Since not older than Last-Modified), 206 for one satisfiable
 * range (If-Range permitting), 416 for an unsatisfiable one, else 200. The body is the store's
 * Blob, so a file goes out with sendfile.
 */

function notModified(req: Request, img: StoredImage): boolean {
  const inm = req.headers.get('if-none-match');
  if (inm !== null) return img.etag !== null && etagMatches(inm, img.etag);
  const ims = req.headers.get('if-modified-since');
  if (ims === null || img.lastModified === null) return false;
  const since = Date.parse(ims);
  const modified = Date.parse(img.lastModified);
  return Number.isFinite(since) && Number.isFinite(modified) && modified <= since;
}

/** If-Range: the range applies only while the validator still names this representation (strong match). */
function rangeApplies(req: Request, img: StoredImage): boolean {
  const ifRange = req.headers.get('if-range');
  if (ifRange === null) return true;
  const v = ifRange.trim();
  if (v.startsWith('"') || v.startsWith('W/')) return img.etag !== null && !v.startsWith('W/') && v === img.etag;
  return img.lastModified !== null && v === img.lastModified;
}

/** A file goes out as it is (sendfile); an object in a bucket as its stream (see StoredImage.remote). */
function bodyOf(img: StoredImage, blob: Blob): Blob | ReadableStream<Uint8Array> {
  return img.remote ? blob.stream() : blob;
}

/** Headers of the whole-image answer, built once per stored image (the store hands out the same object). */
const wholeHeaders = new WeakMap<StoredImage, Record<string, string>>();

function baseHeaders(img: StoredImage, common: Readonly<Record<string, string>>): Record<string, string> {
  let h = wholeHeaders.get(img);
  if (!h) {
    h = { ...common, 'content-type': img.contentType, 'accept-ranges': 'bytes', 'content-length': String(img.size) };
    if (img.etag !== null) h.etag = img.etag;
    if (img.lastModified !== null) h['last-modified'] = img.lastModified;
    // Sizes and ranges below count the stored (encoded) bytes, which is what HTTP means by them.
    if (img.contentEncoding) h['content-encoding'] = img.contentEncoding;
    wholeHeaders.set(img, h);
  }
  return h;
}

/**
 * `common` are the headers of every stored answer (caching, nosniff, CSP; the same object on every
 * call), `outer` those of the surrounding app (request id, CORS), which the image's own override.
 */
export function serveStored(
  req: Request,
  img: StoredImage,
  common: Readonly<Record<string, string>>,
  outer: Readonly<Record<string, string>> = {},
): Response {
  const base = baseHeaders(img, common);
  const head = req.method === 'HEAD';
  const plain =
    req.headers.get('range') === null &&
    req.headers.get('if-none-match') === null &&
    req.headers.get('if-modified-since') === null;
  if (plain) return new Response(head ? null : bodyOf(img, img.body), { status: 200, headers: { ...outer, ...base } });
  const headers = new Headers({ ...outer, ...base });
  headers.delete('content-length');
  headers.delete('content-type');
  headers.delete('content-encoding');
  if (notModified(req, img)) return new Response(null, { status: 304, headers });
  const range = rangeApplies(req, img) ? parseRange(req.headers.get('range'), img.size) : null;
  if (range === 'unsatisfiable') {
    headers.set('content-range', `bytes */${img.size}`);
    headers.set('content-type', 'application/json');
    headers.set('cache-control', 'no-store');
    return new Response(head ? null : JSON.stringify({ error: 'range_not_satisfiable' }), { status: 416, headers });
  }
  headers.set('content-type', img.contentType);
  if (img.contentEncoding) headers.set('content-encoding', img.contentEncoding);
  if (range === null) {
    headers.set('content-length', String(img.size));
    return new Response(head ? null : bodyOf(img, img.body), { status: 200, headers });
  }
  headers.set('content-length', String(range.end - range.start + 1));
  headers.set('content-range', `bytes ${range.start}-${range.end}/${img.size}`);
  return new Response(head ? null : bodyOf(img, img.body.slice(range.start, range.end + 1)), { status: 206, headers });
}
