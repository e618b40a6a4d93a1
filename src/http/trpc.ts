import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import { Elysia } from 'elysia';
import type { AppDeps } from '../deps.ts';
import { createContextInner, requestCredentials } from '../trpc/init.ts';
import { appRouter } from '../trpc/routers/index.ts';
import { requestIdOf } from './request-id.ts';

/**
 * tRPC v11 on `/trpc/*` through the fetch adapter (@elysiajs/trpc bundles v10 and cannot serve
 * v11). `parse: 'none'` keeps Elysia from consuming the body tRPC reads.
 */
export function trpcRoutes(deps: AppDeps) {
  return new Elysia({ name: 'trpc' }).all('/trpc/*', ({ request }) => {
    const requestId = requestIdOf(request);
    return fetchRequestHandler({
      endpoint: '/trpc',
      req: request,
      router: appRouter,
      createContext: ({ info }) => createContextInner(deps, requestCredentials(request.headers, info.connectionParams), requestId),
      onError: ({ error, path }) => {
        if (error.code === 'INTERNAL_SERVER_ERROR') {
          deps.logger.error('trpc procedure failed', { requestId, path, error: error.cause ?? error });
        }
      },
    });
  }, { parse: 'none' });
}
