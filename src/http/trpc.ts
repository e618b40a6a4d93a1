import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import { TRPC_ERROR_CODES_BY_KEY } from '@trpc/server/rpc';
import { Elysia } from 'elysia';
import type { AppDeps } from '../deps.ts';
import { AnswerBudget, limitsOf, TOO_LARGE_MESSAGE, TOO_MANY_REQUESTS } from '../domain/answer-limits.ts';
import { createContextInner, requestCredentials } from '../trpc/init.ts';
import { appRouter } from '../trpc/routers/index.ts';
import { readBodyBytes } from './body.ts';
import { trpcError } from './errors.ts';
import { liveSse } from './live-sse.ts';
import { nulFieldInJson, nulMessage } from './nul.ts';
import { requestIdOf } from './request-id.ts';

/** SPEC §10: a batch holds at most this many calls; one request cannot fan out without bound. */
export const MAX_TRPC_BATCH = 16;

/** Calls in a request to `/trpc/<a>,<b>,...?batch=1` (1 when it is not a batch). */
function callsIn(url: URL): number {
  if (url.searchParams.get('batch') !== '1') return 1;
  return url.pathname.slice('/trpc/'.length).split(',').length;
}

function isBatch(url: string): boolean {
  return new URL(url).searchParams.get('batch') === '1';
}

/**
 * A batch is one answer: when its calls together passed the budget, the whole answer is one 413
 * in tRPC's error shape (one error per call for a batch), not the parts that fitted. A streamed
 * (jsonl) answer has already begun; its refused calls carry PAYLOAD_TOO_LARGE each.
 */
function tooLarge(response: Response, calls: number, batch: boolean): Response {
  if (!(response.headers.get('content-type') ?? '').startsWith('application/json')) return response;
  void response.body?.cancel().catch(() => {});
  const error = {
    error: {
      message: TOO_LARGE_MESSAGE,
      code: TRPC_ERROR_CODES_BY_KEY.PAYLOAD_TOO_LARGE,
      data: { code: 'PAYLOAD_TOO_LARGE', httpStatus: 413 },
    },
  };
  return Response.json(batch ? Array.from({ length: calls }, () => error) : error, { status: 413 });
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
  return isBatch(url) ? field.replace(/^\d+\.?/, '') : field;
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
    if (request.method === 'GET') {
      const live = await liveSse(deps, request, requestId);
      if (live === 'full') {
        set.status = 429;
        return trpcError(429, TOO_MANY_REQUESTS);
      }
      if (live) return live;
    }
    // tRPC reads the body itself: hand it a copy read within the limit.
    const req = request.method === 'GET' || request.method === 'HEAD' ? request : await boundedCopy(request);
    if (typeof req === 'string') {
      set.status = 400;
      return trpcError(400, nulMessage(req));
    }
    // One budget per HTTP request: every call of a batch draws on it (SPEC §10).
    const budget = new AnswerBudget(limitsOf(deps.taskStore).answerBytes);
    const response = await fetchRequestHandler({
      endpoint: '/trpc',
      req,
      router: appRouter,
      maxBatchSize: MAX_TRPC_BATCH,
      createContext: () => createContextInner(deps, requestCredentials(request.headers), requestId, budget),
      onError: ({ error, path }) => {
        if (error.code === 'INTERNAL_SERVER_ERROR') {
          deps.logger.error('trpc procedure failed', { requestId, path, error: error.cause ?? error });
        }
      },
    });
    return budget.exceeded ? tooLarge(response, calls, isBatch(request.url)) : response;
  };
  // `/trpc/:path`, not `.all('/trpc/*')`: Elysia 1.4 misroutes wildcard and `.all` routes when the
  // Host header is 1 to 3 characters long (a 404 for `Host: api`). Procedure paths hold no `/`.
  return new Elysia({ name: 'trpc' })
    .get('/trpc/:path', handle, { parse: 'none' })
    .post('/trpc/:path', handle, { parse: 'none' });
}
