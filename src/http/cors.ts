import { Elysia } from 'elysia';
import { pathOfUrl } from './errors.ts';

const ALLOWED_HEADERS =
  'authorization, content-type, mj-api-secret, new-api-user, mj-version, trpc-accept, x-request-id, range, if-none-match';
const CORS_PATH = /^\/(?:api|trpc)(?:\/|$)|^\/(?:[^/]+\/)?mj(?:\/|$)/;

type SetLike = { headers: Record<string, string | number>; status?: number | string };

/**
 * CORS for browser clients (SPEC §7.5): puts the headers on `set` at request start, so they ride
 * on every answer of these paths, errors and streamed images included; answers a preflight.
 * `path` is the request's path, parsed once by the caller.
 */
export function corsHandler(origins: readonly string[]) {
  const any = origins.includes('*');
  return (request: Request, set: SetLike, path: string): Response | undefined => {
    if (!CORS_PATH.test(path)) return;
    const origin = request.headers.get('origin');
    if (any) set.headers['access-control-allow-origin'] = '*';
    else if (origin && origins.includes(origin)) {
      set.headers['access-control-allow-origin'] = origin;
      set.headers.vary = 'Origin';
    } else if (request.method !== 'OPTIONS') return;
    set.headers['access-control-expose-headers'] =
      'content-length, content-range, etag, last-modified, retry-after, x-request-id';
    if (request.method === 'OPTIONS') {
      set.headers['access-control-allow-methods'] = 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS';
      set.headers['access-control-allow-headers'] = ALLOWED_HEADERS;
      set.headers['access-control-max-age'] = '86400';
      set.status = 204;
      return new Response(null, { status: 204, headers: set.headers as Record<string, string> });
    }
  };
}

/** The same as an Elysia plugin of its own (the app runs corsHandler inside its one request hook). */
export function corsPlugin(origins: readonly string[]) {
  const cors = corsHandler(origins);
  return new Elysia({ name: 'cors' }).onRequest(({ request, set }) => cors(request, set, pathOfUrl(request.url)));
}
