import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import { TRPC_ERROR_CODES_BY_KEY } from '@trpc/server/rpc';
import { Elysia } from 'elysia';
import type { AppDeps } from '../deps.ts';
import { AnswerBudget, limitsOf, TOO_LARGE_MESSAGE } from '../domain/answer-limits.ts';
import { createContextInner, requestCredentials } from '../trpc/init.ts';
import { appRouter } from '../trpc/routers/index.ts';
import { readBodyBytes } from './body.ts';
import { requestIdOf } from './request-id.ts';

/** SPEC §10: a batch holds at most this many calls; one request cannot fan out without bound. */
export const MAX_TRPC_BATCH = 16;

/** Calls in a request to `/trpc/<a>,<b>,...?batch=1` (1 when it is not a batch). */
function callsIn(url: URL): number {
  if (url.searchParams.get('batch') !== '1') return 1;
  return url.pathname.slice('/trpc/'.length).split(',').length;
}

function isBatch(request: Request): boolean {
  return new URL(request.url).searchParams.get('batch') === '1';
}

/**
 * A batch is one answer: when its calls together passed the budget, the whole answer is one 413
 * in tRPC's error shape (one error per call for a batch), not the parts that fitted. A streamed
 * (jsonl) answer has already begun; its refused calls carry PAYLOAD_TOO_LARGE each.
 */
function tooLarge(response: Response, calls: number, batch: boolean): Response {
  if (!(response.headers.get('content-type') ?? '').startsWith('application/json')) return response;
  void response.body?.cancel().catch(() => {});
  const error = { error: { message: TOO_LARGE_MESSAGE, code: TRPC_ERROR_CODES_BY_KEY.PAYLOAD_TOO_LARGE, data: { code: 'PAYLOAD_TOO_LARGE', httpStatus: 413 } } };
  return Response.json(batch ? Array.from({ length: calls }, () => error) : error, { status: 413 });
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
    const req = request.method === 'GET' || request.method === 'HEAD' ? request
      : new Request(request.url, { method: request.method, headers: request.headers, body: await readBodyBytes(request) });
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
    return budget.exceeded ? tooLarge(response, calls, isBatch(request)) : response;
  };
  // `/trpc/:path`, not `.all('/trpc/*')`: Elysia 1.4 misroutes wildcard and `.all` routes when the
  // Host header is 1 to 3 characters long (a 404 for `Host: api`). Procedure paths hold no `/`.
  return new Elysia({ name: 'trpc' })
    .get('/trpc/:path', handle, { parse: 'none' })
    .post('/trpc/:path', handle, { parse: 'none' });
}
