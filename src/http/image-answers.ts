import type { AppDeps } from '../deps.ts';
import { serveStored } from '../images/serve.ts';
import type { StoredImage } from '../images/store.ts';

/** What every image answer of `/mj/image/:id` shares (SPEC §9, §18): caching, safety and errors. */

export const CACHE_SUCCESS = 'public, max-age=86400, immutable';
/** The bytes come from elsewhere: never let a browser treat them as a page of this origin. */
export const SAFETY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'content-security-policy': "default-src 'none'; sandbox",
} as const;
export const STORED_HEADERS = { 'cache-control': CACHE_SUCCESS, ...SAFETY_HEADERS } as const;

/** `{ error }` with the SPEC's code, plus a sentence for people where the code alone says too little. */
export function errorResponse(status: number, error: string, message?: string): Response {
  return new Response(JSON.stringify(message === undefined ? { error } : { error, message }), {
    status,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
  });
}

/** A stored image (an original or a rendition) answered as an HTTP cache would, its bytes counted. */
export function serveCounted(
  deps: AppDeps,
  request: Request,
  img: StoredImage,
  outer: Readonly<Record<string, string>>,
): Response {
  const res = serveStored(request, img, STORED_HEADERS, outer);
  const sent = request.method === 'HEAD' ? null : res.headers.get('content-length');
  if (sent && (res.status === 200 || res.status === 206)) deps.metrics.addImageBytes(Number(sent));
  return res;
}
