import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import { Elysia } from 'elysia';
import type { AppDeps } from '../deps.ts';
import { createContextInner, requestCredentials } from '../trpc/init.ts';
import { appRouter } from '../trpc/routers/index.ts';
import { nulFieldInJson, nulMessage } from './nul.ts';
import { readBodyBytes } from './body.ts';
import { requestIdOf } from './request-id.ts';
import { trpcError } from './errors.ts';

/** SPEC §10: a batch holds at most this many calls; one request cannot fan out without bound. */
export const MAX_TRPC_BATCH = 16;

/** Calls in a request to `/trpc/<a>,<b>,...?batch=1` (1 when it is not a batch). */
function callsIn(url: URL): number {
  if (url.searchParams.get('batch') !== '1') return 1;
  return url.pathname.slice('/trpc/'.length).split(',').length;
}

/**
 * A POST without a body: what tRPC's own `httpLink` sends for a call without input (and `curl -X
 * POST`). tRPC's fetch adapter would JSON-parse the empty text and answer 400 `Unexpected end of
 * JSON input`; its JSON reader is this request's `json()`, so "no input" is said there.
 */
class InputlessRequest extends Request {
  override json(): Promise<undefined> {
    return Promise.resolve(undefined);
  }
}

/**
 * The input field holding U+0000 in a tRPC body, or null; a batch's call index is left out of the
 * name (`name`, not `0.name`). The bytes are searched natively first: most bodies hold no `\u0000`.
 */
function nulFieldOfBody(body: Uint8Array, url: string): string | null {
  const bytes = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (bytes.indexOf('\\u0000') < 0) return null;
  const field = nulFieldInJson(bytes.toString('utf8'));
  if (field === null) return null;
  const inBatch = new URL(url).searchParams.get('batch') === '1';
  return inBatch ? field.replace(/^\d+\.?/, '') : field;
}

/** The request as tRPC should see it, its body read within the limit (SPEC §10); or the field holding U+0000. */
async function boundedCopy(request: Request): Promise<Request | string> {
  const body = await readBodyBytes(request);
  const nulField = body.byteLength > 0 ? nulFieldOfBody(body, request.url) : null;
  if (nulField !== null) return nulField;
  if (body.byteLength > 0) return new Request(request.url, { method: request.method, headers: request.headers, body });
  const headers = new Headers(request.headers);
  // Nothing to decode, so no media type to insist on: tRPC would answer 415 for a bare `curl -X POST`.
  if (!headers.has('content-type')) headers.set('content-type', 'application/json');
  return new InputlessRequest(request.url, { method: request.method, headers, signal: request.signal });
}

/**
 * tRPC v11 on `/trpc/*` through the fetch adapter (@elysiajs/trpc bundles v10 and cannot serve
 * v11). `parse: 'none'` keeps Elysia from consuming the body tRPC reads.
 */
export function trpcRoutes(deps: AppDeps) {
  const handle = async ({ request, set }: { request: Request; set: { status?: number | string } }) => {
    const requestId = requestIdOf(request);
    const calls = callsIn(new URL(request.url));
    if (calls > MAX_TRPC_BATCH) {
      // Checked before tRPC (whose own maxBatchSize message does not say the limit), in its error shape.
      set.status = 400;
      return {
        error: {
          message: `batch of ${calls} calls exceeds the limit of ${MAX_TRPC_BATCH} calls per request`,
          code: -32600,
          data: { code: 'BAD_REQUEST', httpStatus: 400 },
        },
      };
    }
    // tRPC reads the body itself: hand it a copy read within the limit.
    const req = request.method === 'GET' || request.method === 'HEAD' ? request : await boundedCopy(request);
    if (typeof req === 'string') {
      set.status = 400;
      return trpcError(400, nulMessage(req));
    }
    return fetchRequestHandler({
      endpoint: '/trpc',
      req,
      router: appRouter,
      maxBatchSize: MAX_TRPC_BATCH,
      createContext: ({ info }) => createContextInner(deps, requestCredentials(request.headers, info.connectionParams), requestId),
      onError: ({ error, path }) => {
        if (error.code === 'INTERNAL_SERVER_ERROR') {
          deps.logger.error('trpc procedure failed', { requestId, path, error: error.cause ?? error });
        }
      },
    });
  };
  // `/trpc/:path`, not `.all('/trpc/*')`: Elysia 1.4 misroutes wildcard and `.all` routes when the
  // Host header is 1 to 3 characters long (a 404 for `Host: api`). Procedure paths hold no `/`.
  return new Elysia({ name: 'trpc' })
    .get('/trpc/:path', handle, { parse: 'none' })
    .post('/trpc/:path', handle, { parse: 'none' });
}
