import { Elysia } from 'elysia';
import type { AppDeps } from '../deps.ts';
import { channelEndpoints } from '../domain/channels.ts';
import { findTaskByMjId } from '../domain/tasks.ts';
import { hostKeyOf, safeFetch, type Lookup } from '../upstream/safe-fetch.ts';

/**
 * Image forwarder (SPEC §9): `GET`/`HEAD /mj/image/:id` streams the task's stored upstream image
 * through the gateway, without buffering it, behind the SSRF guard of upstream/safe-fetch.
 */

const FORWARDED_REQUEST_HEADERS = ['range', 'if-none-match', 'if-modified-since', 'if-range'] as const;
const PASSED_RESPONSE_HEADERS = ['etag', 'last-modified', 'content-range', 'accept-ranges'] as const;
const CACHE_SUCCESS = 'public, max-age=86400, immutable';

function errorResponse(status: number, error: string): Response {
  return new Response(JSON.stringify({ error }), {
    status, headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
  });
}

/** Host keys of every channel's base URL: images on a channel's own host are fetched even if private. */
function trustedHosts(deps: AppDeps): Set<string> {
  const keys = new Set<string>();
  for (const c of channelEndpoints(deps.db).values()) {
    const k = hostKeyOf(c.baseUrl);
    if (k) keys.add(k);
  }
  return keys;
}

export interface ImageRouteOptions {
  /** DNS resolver for the SSRF check (tests); the system resolver by default. */
  lookup?: Lookup;
}

/** Answers one image request. */
export async function forwardImage(deps: AppDeps, mjId: string, request: Request, opts: ImageRouteOptions = {}): Promise<Response> {
  const task = mjId ? findTaskByMjId(deps.db, mjId, null) : null;
  if (!task || !task.imageUrl) return errorResponse(404, 'midjourney_task_not_found');
  const head = request.method === 'HEAD';
  const headers: Record<string, string> = { 'accept-encoding': 'identity', accept: 'image/*,*/*;q=0.8' };
  for (const name of FORWARDED_REQUEST_HEADERS) {
    const v = request.headers.get(name);
    if (v !== null) headers[name] = v;
  }
  // The timeout covers DNS, connect, redirects and the response headers; the body then streams
  // for as long as the client reads it (a client that goes away cancels the upstream read).
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(), deps.config.upstreamTimeoutMs);
  let result;
  try {
    result = await safeFetch(task.imageUrl, {
      fetch: deps.fetch,
      method: head ? 'HEAD' : 'GET',
      headers,
      signal: AbortSignal.any([timeout.signal, request.signal]),
      policy: { allowPrivate: deps.config.imageFetchAllowPrivate, trustedHosts: trustedHosts(deps) },
      lookup: opts.lookup,
    });
  } finally {
    clearTimeout(timer);
  }
  switch (result.kind) {
    case 'blocked':
      deps.logger.warn('image fetch blocked', { mjId, reason: result.reason });
      return errorResponse(403, 'request blocked');
    case 'too_many_redirects':
      deps.logger.warn('image fetch: too many redirects', { mjId });
      return errorResponse(502, 'too_many_redirects');
    case 'network':
      if (timeout.signal.aborted) return errorResponse(504, 'image_fetch_timeout');
      if (!request.signal.aborted) deps.logger.warn('image fetch failed', { mjId, error: result.message });
      // Say what is gone (the URL passed the guard, so it parses); the raw runtime message stays in the log.
      return errorResponse(502, `upstream image unavailable: ${new URL(task.imageUrl).host} could not be reached`);
  }
  const upstream = result.response;
  const status = upstream.status;
  if (status !== 304 && (status < 200 || status > 299)) {
    await upstream.body?.cancel().catch(() => {});
    return errorResponse(status, `upstream returned ${status}`);
  }
  const out = new Headers();
  for (const name of PASSED_RESPONSE_HEADERS) {
    const v = upstream.headers.get(name);
    if (v !== null) out.set(name, v);
  }
  if (status !== 304) out.set('content-type', upstream.headers.get('content-type') || 'image/jpeg');
  // A length only means something for the bytes as sent; Bun decodes compressed bodies.
  const length = upstream.headers.get('content-length');
  if (length !== null && !upstream.headers.has('content-encoding')) out.set('content-length', length);
  out.set('cache-control', task.status === 'SUCCESS' ? CACHE_SUCCESS : 'no-store');
  // The bytes come from elsewhere: never let a browser treat them as a page of this origin.
  out.set('x-content-type-options', 'nosniff');
  out.set('content-security-policy', "default-src 'none'; sandbox");
  if (head || status === 304 || status === 204) {
    await upstream.body?.cancel().catch(() => {});
    return new Response(null, { status, headers: out });
  }
  return new Response(deps.metrics.countImageBytes(upstream.body), { status, headers: out });
}

export function imageRoutes(deps: AppDeps, opts: ImageRouteOptions = {}) {
  const handle = ({ params, request }: { params: { id: string }; request: Request }) => forwardImage(deps, params.id, request, opts);
  return new Elysia({ name: 'image' })
    .get('/mj/image/:id', handle)
    .head('/mj/image/:id', handle)
    .get('/:mode/mj/image/:id', handle)
    .head('/:mode/mj/image/:id', handle);
}
