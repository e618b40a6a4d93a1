import { Elysia } from 'elysia';
import type { AppDeps } from './deps.ts';
import { limitsOf } from './domain/answer-limits.ts';
import { BodyReadError, BodyTooLargeError, discardBody, MAX_BODY_BYTES } from './http/body.ts';
import { corsHandler } from './http/cors.ts';
import { errorBodyFor, pathOfUrl } from './http/errors.ts';
import { imageRoutes } from './http/image.ts';
import { surfaceIndex } from './http/index-route.ts';
import { metricsRoutes } from './http/metrics.ts';
import { notifyRoutes } from './http/notify.ts';
import { nulFieldInUrl, nulMessage } from './http/nul.ts';
import { openapiRoutes } from './http/openapi-routes.ts';
import { relayRoutes } from './http/relay.ts';
import { requestIdOf } from './http/request-id.ts';
import { restRoutes } from './http/rest.ts';
import { trpcRoutes } from './http/trpc.ts';
import { webRoutes } from './http/web.ts';

export { MAX_BODY_BYTES };

/**
 * Bun's own body limit answers with a bare 413 before any of our code runs, so it is set out of
 * reach: the 10 MiB limit is ours, on the declared length here and on the bytes as they are read
 * (src/http/body.ts), and every refusal is the surface's JSON with CORS. Hence a route that takes
 * a body says `parse: 'none'` and reads it through body.ts: Elysia's own parsers would read a
 * chunked body without end (tests/integration/http-limits.test.ts checks every route).
 */
const SERVER_BODY_LIMIT = Number.MAX_SAFE_INTEGER;

/**
 * The whole HTTP surface as one Elysia instance: no listening and no timers here, so tests build
 * exactly what production serves.
 */
export function createApp(deps: AppDeps) {
  const refuse = (
    request: Request,
    set: { headers: Record<string, string | number> },
    status: number,
    message: string,
  ) => {
    set.headers['content-type'] = 'application/json';
    set.headers.connection = 'close';
    return new Response(JSON.stringify(errorBodyFor(pathOfUrl(request.url), status, message)), {
      status,
      headers: set.headers as Record<string, string>,
    });
  };
  const cors = corsHandler(deps.config.corsOrigins);
  limitsOf(deps.taskStore).subscriptionsPerUser = deps.config.liveStreamsPerUser;
  return (
    new Elysia({ serve: { maxRequestBodySize: SERVER_BODY_LIMIT } })
      // One request hook, and the URL parsed once in it: a request id, CORS, then the checks.
      .onRequest(({ request, set }) => {
        set.headers['x-request-id'] = requestIdOf(request);
        // SPEC §10: on every answer of every surface (errors, 413s, preflights, streams included), so
        // no route can miss it; it only holds a browser to the type each answer declares.
        set.headers['x-content-type-options'] = 'nosniff';
        const url = URL.parse(request.url);
        const path = url ? url.pathname : pathOfUrl(request.url);
        const preflight = cors(request, set, path);
        if (preflight) return preflight;
        // No usable Host header (HTTP/1.0 without one, an empty or malformed one): nothing can be routed.
        // (/healthz reads nothing of the URL: plain HTTP/1.0 health checkers send no Host.)
        if (!url && path !== '/healthz') {
          return refuse(request, set, 400, 'malformed request: invalid Host header or URL');
        }
        const nulField = url ? nulFieldInUrl(url) : null;
        if (nulField !== null) return refuse(request, set, 400, nulMessage(nulField));
        // A chunked body that a route does not read would otherwise be drained to its end.
        if (request.headers.has('transfer-encoding')) set.headers.connection = 'close';
        const declared = request.headers.get('content-length');
        // Read (and dropped, bounded) before answering, so the client is not reset before it reads the 413.
        if (declared !== null && Number(declared) > MAX_BODY_BYTES) {
          return discardBody(request).then(() => refuse(request, set, 413, 'request body too large'));
        }
      })
      .onError(({ code, error, request, set, path }) => {
        const requestId = requestIdOf(request);
        const p = path ?? pathOfUrl(request.url);
        const json = (status: number, message: string) => {
          set.status = status;
          set.headers['content-type'] = 'application/json';
          return JSON.stringify(errorBodyFor(p, status, message));
        };
        if (error instanceof BodyTooLargeError || error instanceof BodyReadError) {
          // The client's mistake (or its dropped connection): never an error-level line.
          deps.logger.info('request body refused', { requestId, path: p, reason: error.message });
          set.headers.connection = 'close';
          return json(error.status, error.message);
        }
        switch (code) {
          case 'NOT_FOUND':
            return json(404, 'not found');
          case 'PARSE':
            return json(400, 'request body is not valid JSON');
          case 'VALIDATION':
            return json(400, 'invalid request');
          case 'INVALID_COOKIE_SIGNATURE':
          case 'INVALID_FILE_TYPE':
            return json(400, 'invalid request');
          default: {
            const status =
              typeof (error as { status?: unknown }).status === 'number' ? (error as { status: number }).status : 500;
            if (status === 413) return json(413, 'request body too large');
            if (status >= 400 && status < 500) return json(status, 'invalid request');
            deps.logger.error('unhandled error', {
              requestId,
              path: p,
              error: error instanceof Error ? error : String(error),
            });
            return json(500, `internal error (request id ${requestId})`);
          }
        }
      })
      .use(metricsRoutes(deps))
      .use(restRoutes(deps))
      .use(trpcRoutes(deps))
      .use(imageRoutes(deps))
      .use(notifyRoutes(deps))
      .use(relayRoutes(deps))
      .use(openapiRoutes(deps))
      .use(webRoutes(deps, { nonHtml: () => Response.json(surfaceIndex(deps)) }))
  );
}

export type App = ReturnType<typeof createApp>;
