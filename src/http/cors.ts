import { Elysia } from 'elysia';
import { pathOfUrl } from './errors.ts';

const ALLOWED_HEADERS = 'authorization, content-type, mj-api-secret, new-api-user, mj-version, trpc-accept, x-request-id, range, if-none-match';
const CORS_PATH = /^\/(?:api|trpc)(?:\/|$)|^\/(?:[^/]+\/)?mj(?:\/|$)/;

/**
 * CORS for browser clients (SPEC §7.5). Headers are put on `set` at request start, so they ride
 * on every answer of these paths, errors and streamed images included.
 */
export function corsPlugin(origins: readonly string[]) {
  const any = origins.includes('*');
  return new Elysia({ name: 'cors' }).onRequest(({ request, set }) => {
    const path = pathOfUrl(request.url);
    if (!CORS_PATH.test(path)) return;
    const origin = request.headers.get('origin');
    if (any) set.headers['access-control-allow-origin'] = '*';
    else if (origin && origins.includes(origin)) {
      set.headers['access-control-allow-origin'] = origin;
      set.headers['vary'] = 'Origin';
    } else if (request.method !== 'OPTIONS') return;
    set.headers['access-control-expose-headers'] = 'content-length, content-range, etag, last-modified, retry-after, x-request-id';
    if (request.method === 'OPTIONS') {
      set.headers['access-control-allow-methods'] = 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS';
      set.headers['access-control-allow-headers'] = ALLOWED_HEADERS;
      set.headers['access-control-max-age'] = '86400';
      set.status = 204;
      return new Response(null, { status: 204, headers: set.headers as Record<string, string> });
    }
  });
}
