import { Elysia } from 'elysia';
import type { AppDeps } from './deps.ts';
import { corsPlugin } from './http/cors.ts';
import { errorBodyFor } from './http/errors.ts';
import { requestIdOf } from './http/request-id.ts';
import { imageRoutes } from './http/image.ts';
import { relayRoutes } from './http/relay.ts';
import { restRoutes } from './http/rest.ts';
import { trpcRoutes } from './http/trpc.ts';
import { webRoutes } from './http/web.ts';

export const MAX_BODY_BYTES = 10 * 1024 * 1024;
/** Bun's own hard limit sits a little higher, so declared oversizes get our JSON 413 first. */
const SERVER_BODY_LIMIT = MAX_BODY_BYTES + 1024 * 1024;

/**
 * The whole HTTP surface as one Elysia instance: no listening and no timers here, so tests build
 * exactly what production serves.
 */
export function createApp(deps: AppDeps) {
  return new Elysia({ serve: { maxRequestBodySize: SERVER_BODY_LIMIT } })
    .onRequest(({ request, set }) => {
      set.headers['x-request-id'] = requestIdOf(request);
    })
    .use(corsPlugin(deps.config.corsOrigins))
    .onRequest(({ request, set }) => {
      const declared = Number(request.headers.get('content-length') ?? 0);
      if (declared > MAX_BODY_BYTES) {
        const path = new URL(request.url).pathname;
        set.headers['content-type'] = 'application/json';
        set.headers['connection'] = 'close';
        return new Response(JSON.stringify(errorBodyFor(path, 413, 'request body too large')), {
          status: 413, headers: set.headers as Record<string, string>,
        });
      }
    })
    .onError(({ code, error, request, set, path }) => {
      const requestId = requestIdOf(request);
      const p = path ?? new URL(request.url).pathname;
      const json = (status: number, message: string) => {
        set.status = status;
        set.headers['content-type'] = 'application/json';
        return JSON.stringify(errorBodyFor(p, status, message));
      };
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
          const status = typeof (error as { status?: unknown }).status === 'number' ? (error as { status: number }).status : 500;
          if (status === 413) return json(413, 'request body too large');
          if (status >= 400 && status < 500) return json(status, 'invalid request');
          deps.logger.error('unhandled error', { requestId, path: p, error: error instanceof Error ? error : String(error) });
          return json(500, `internal error (request id ${requestId})`);
        }
      }
    })
    .use(restRoutes(deps))
    .use(trpcRoutes(deps))
    .use(imageRoutes(deps))
    .use(relayRoutes(deps))
    .use(webRoutes(deps));
}

export type App = ReturnType<typeof createApp>;
