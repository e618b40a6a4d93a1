import { Elysia } from 'elysia';
import type { AppDeps } from '../deps.ts';
import { AppError, DATABASE_UNAVAILABLE } from '../domain/errors.ts';
import { countingStream, drainInto, storeWhileStreaming } from '../images/fill.ts';
import { channelHosts } from '../images/lookup.ts';
import { type ImageStoreSettings, openConfiguredImageStore } from '../images/open.ts';
import { Renditions } from '../images/rendition.ts';
import { serveStored } from '../images/serve.ts';
import type { ImageStore } from '../images/store.ts';
import { type Lookup, type SafeFetchResult, safeFetch } from '../upstream/safe-fetch.ts';
import { CACHE_SUCCESS, errorResponse, SAFETY_HEADERS, STORED_HEADERS, serveCounted } from './image-answers.ts';
import { answerRendition, imageQuery } from './image-rendition.ts';

/**
 * Image forwarder (SPEC §9): `GET`/`HEAD /mj/image/:id` streams the task's stored upstream image
 * through the gateway, without buffering it, behind the SSRF guard of upstream/safe-fetch. The
 * final image of a SUCCESS task is kept in the image store on its first full GET and served from
 * there afterwards (images/), so it outlives the upstream's link.
 */

const FORWARDED_REQUEST_HEADERS = ['range', 'if-none-match', 'if-modified-since', 'if-range'] as const;
const PASSED_RESPONSE_HEADERS = ['etag', 'last-modified', 'content-range', 'accept-ranges'] as const;

/**
 * The upstream's Content-Encoding, null for identity. We ask for `identity`, but an upstream may
 * encode anyway: such a body is forwarded and stored encoded, as it came (safe-fetch never
 * inflates it), so its size, ETag and ranges stay the upstream's and a small gzip body cannot
 * become a huge decoded one on our side. The client decodes it, as for any encoded answer.
 */
function contentEncodingOf(res: Response): string | null {
  const v = res.headers.get('content-encoding')?.trim().toLowerCase();
  return v && v !== 'identity' ? v : null;
}

/** The image store part of the configuration, as images/open.ts takes it. */
export function imageStoreSettings(config: AppDeps['config']): ImageStoreSettings {
  return {
    s3: config.s3,
    redirect: config.imageRedirect,
    dir: config.imageCacheDir,
    maxBytes: config.imageCacheMaxBytes,
  };
}

export interface ImageRouteOptions {
  /** DNS resolver for the SSRF check (tests); the system resolver (with a short cache) by default. */
  lookup?: Lookup;
}

interface ImageContext extends ImageRouteOptions {
  store: ImageStore | null;
  /** Renditions (SPEC §18) made from the store's originals, kept in the same store. */
  renditions: Renditions;
  /** Background fills running now (bounded: see fillInBackground). */
  filling: number;
  /** Adds to the served image bytes (one closure for every request). */
  addImageBytes: (n: number) => void;
}

/** Background fills at once; more requests simply wait for a later plain GET to store the image. */
const MAX_BACKGROUND_FILLS = 4;

/** Fetches the image under the SSRF guard; a refusal is checked once more against a fresh channel list. */
async function fetchUpstream(
  deps: AppDeps,
  url: string,
  init: { method: 'GET' | 'HEAD'; headers: Record<string, string>; signal: AbortSignal },
  lookup: Lookup | undefined,
): Promise<SafeFetchResult> {
  let hosts = await channelHosts(deps.store.channels);
  for (;;) {
    const result = await safeFetch(url, {
      fetch: deps.fetch,
      ...init,
      lookup,
      policy: { allowPrivate: deps.config.imageFetchAllowPrivate, trustedHosts: hosts.hosts },
    });
    if (result.kind !== 'blocked' || hosts.fresh) return result;
    hosts = await channelHosts(deps.store.channels, true);
  }
}

/**
 * Stores a SUCCESS image whose request could not fill the store itself (a HEAD, a range, a
 * revalidation: a browser that holds the image only ever revalidates it) with a plain GET of its
 * own, read to the end in the background. Bounded by a deadline and by MAX_BACKGROUND_FILLS.
 */
function fillInBackground(deps: AppDeps, ctx: ImageContext, mjId: string, url: string): void {
  if (!ctx.store || ctx.filling >= MAX_BACKGROUND_FILLS) return;
  ctx.filling++;
  const store = ctx.store;
  const signal = AbortSignal.timeout(10 * deps.config.upstreamTimeoutMs);
  void (async () => {
    const result = await fetchUpstream(
      deps,
      url,
      { method: 'GET', headers: { 'accept-encoding': 'identity', accept: 'image/*,*/*;q=0.8' }, signal },
      ctx.lookup,
    );
    if (result.kind !== 'response') return;
    const res = result.response;
    const length = res.headers.get('content-length');
    const meta = {
      contentType: res.headers.get('content-type') || 'image/jpeg',
      etag: res.headers.get('etag'),
      lastModified: res.headers.get('last-modified'),
      contentEncoding: contentEncodingOf(res),
    };
    const writer =
      res.status === 200 && res.body
        ? store.begin(mjId, meta, length !== null && /^\d+$/.test(length) ? Number(length) : null)
        : null;
    if (!writer || !res.body) {
      await res.body?.cancel().catch(() => {});
      return;
    }
    await drainInto(res.body, writer);
  })()
    .catch((err: unknown) =>
      deps.logger.warn('image background fill failed', {
        mjId,
        error: err instanceof Error ? err.message : String(err),
      }),
    )
    .finally(() => ctx.filling--);
}

/**
 * Answers one image request; `outer` are the app's headers for it (request id, CORS). `count`
 * false leaves the bytes out of the served-bytes metric (a rendition's own read of its original).
 */
export async function forwardImage(
  deps: AppDeps,
  mjId: string,
  request: Request,
  ctx: ImageContext,
  outer: Readonly<Record<string, string>> = {},
  count = true,
): Promise<Response> {
  // A stored image needs no task lookup: only a SUCCESS task's final image is stored, and it is final.
  const stored = mjId && ctx.store ? await ctx.store.get(mjId) : null;
  if (stored?.presignedUrl && deps.config.imageRedirect) {
    // IMAGE_REDIRECT: the bucket serves the bytes (its URL changes, so the redirect is not cached).
    return new Response(null, {
      status: 302,
      headers: { ...outer, location: stored.presignedUrl(), 'cache-control': 'no-store' },
    });
  }
  if (stored)
    return count ? serveCounted(deps, request, stored, outer) : serveStored(request, stored, STORED_HEADERS, outer);
  const task = mjId ? await deps.taskStore.tasks.imageTask(mjId) : null;
  if (!task?.imageUrl) return errorResponse(404, 'midjourney_task_not_found');
  const head = request.method === 'HEAD';
  const headers: Record<string, string> = { 'accept-encoding': 'identity', accept: 'image/*,*/*;q=0.8' };
  let partial = false;
  for (const name of FORWARDED_REQUEST_HEADERS) {
    const v = request.headers.get(name);
    if (v !== null) {
      headers[name] = v;
      partial = true;
    }
  }
  // The timeout covers DNS, connect, redirects and the response headers; the body then streams
  // for as long as the client reads it (a client that goes away cancels the upstream read).
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(), deps.config.upstreamTimeoutMs);
  let result: Awaited<ReturnType<typeof fetchUpstream>>;
  try {
    result = await fetchUpstream(
      deps,
      task.imageUrl,
      {
        method: head ? 'HEAD' : 'GET',
        headers,
        signal: AbortSignal.any([timeout.signal, request.signal]),
      },
      ctx.lookup,
    );
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
      return errorResponse(
        502,
        'http_get_image_failed',
        `upstream image unavailable: ${new URL(task.imageUrl).host} could not be reached`,
      );
  }
  const upstream = result.response;
  const status = upstream.status;
  if (status !== 304 && (status < 200 || status > 299)) {
    await upstream.body?.cancel().catch(() => {});
    return errorResponse(status, `upstream returned ${status}`);
  }
  const out = new Headers(SAFETY_HEADERS);
  for (const name of PASSED_RESPONSE_HEADERS) {
    const v = upstream.headers.get(name);
    if (v !== null) out.set(name, v);
  }
  const contentType = upstream.headers.get('content-type') || 'image/jpeg';
  if (status !== 304) out.set('content-type', contentType);
  // Length and ranges count the bytes as sent, encoded or not (they are forwarded undecoded).
  const encoding = contentEncodingOf(upstream);
  if (encoding !== null) out.set('content-encoding', encoding);
  const length = upstream.headers.get('content-length');
  if (length !== null) out.set('content-length', length);
  const success = task.status === 'SUCCESS';
  out.set('cache-control', success ? CACHE_SUCCESS : 'no-store');
  if (ctx.store && success && (head || partial)) fillInBackground(deps, ctx, mjId, task.imageUrl);
  if (head || status === 304 || status === 204 || !upstream.body) {
    await upstream.body?.cancel().catch(() => {});
    return new Response(null, { status, headers: out });
  }
  const size = length !== null && /^\d+$/.test(length) ? Number(length) : null;
  // A declared length is counted at once and the upstream body passes untouched (the runtime
  // pipes it natively); an unknown one is counted chunk by chunk inside the one stream layer the
  // answer needs anyway, never a second one on top of it.
  const countBytes = size === null && count ? ctx.addImageBytes : undefined;
  if (size !== null && count) deps.metrics.addImageBytes(size);
  // Only a whole final image is stored: not a preview or a range (an encoded one as it came).
  if (ctx.store && success && status === 200 && !partial) {
    const writer = ctx.store.begin(
      mjId,
      { contentType, etag: out.get('etag'), lastModified: out.get('last-modified'), contentEncoding: encoding },
      size,
    );
    if (writer) return new Response(storeWhileStreaming(upstream.body, writer, countBytes), { status, headers: out });
  }
  return new Response(countBytes ? countingStream(upstream.body, countBytes) : upstream.body, { status, headers: out });
}

/**
 * Moves the headers hooks left on `set` (request id, CORS) onto the answer and empties `set`.
 * Elysia rebuilds any Response while `set.headers` holds something, and that rebuild turns a
 * file body into a JS stream (no sendfile) and re-pipes a streamed one through a generator:
 * half the throughput of the image paths. Headers the answer has already win, as in Elysia.
 */
function adoptSetHeaders(res: Response, setHeaders: Record<string, unknown>): Response {
  for (const name in setHeaders) {
    const v = setHeaders[name];
    if (!res.headers.has(name) && v !== undefined) res.headers.set(name, String(v));
    delete setHeaders[name];
  }
  return res;
}

export function imageRoutes(deps: AppDeps, opts: ImageRouteOptions = {}) {
  const store =
    deps.imageStore !== undefined
      ? deps.imageStore
      : openConfiguredImageStore(imageStoreSettings(deps.config), deps.logger);
  const ctx: ImageContext = {
    ...opts,
    filling: 0,
    addImageBytes: (n) => deps.metrics.addImageBytes(n),
    store,
    renditions: new Renditions(store, { onRender: (outcome) => deps.metrics.imageRendition(outcome) }),
  };
  const answer = async (id: string, request: Request, outer: Record<string, string>): Promise<Response> => {
    try {
      // `~` marks a rendition's store key (images/rendition.ts): never an mj_id of its own.
      if (id.includes('~')) return errorResponse(404, 'midjourney_task_not_found');
      const query = imageQuery(request.url);
      if (query.kind === 'invalid') return errorResponse(400, `invalid_${query.param}`, query.message);
      if (query.kind === 'spec')
        return await answerRendition(deps, ctx, id, query.spec, request, outer, (req, internal) =>
          internal ? forwardImage(deps, id, req, ctx, {}, false) : forwardImage(deps, id, req, ctx, outer),
        );
      return await forwardImage(deps, id, request, ctx, outer);
    } catch (err) {
      // The database away (SPEC §13): 503 in this route's own shape; a stored image was served above without it.
      if (err instanceof AppError && err.kind === 'DATABASE') return errorResponse(503, DATABASE_UNAVAILABLE);
      throw err;
    }
  };
  const handle = async ({
    params,
    request,
    set,
  }: {
    params: { id: string };
    request: Request;
    set: { headers: Record<string, unknown> };
  }) => adoptSetHeaders(await answer(params.id, request, set.headers as Record<string, string>), set.headers);
  return new Elysia({ name: 'image' })
    .get('/mj/image/:id', handle)
    .head('/mj/image/:id', handle)
    .get('/:mode/mj/image/:id', handle)
    .head('/:mode/mj/image/:id', handle);
}
