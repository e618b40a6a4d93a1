import { TRPCError } from '@trpc/server';
import { getHTTPStatusCodeFromError } from '@trpc/server/http';
import { Elysia } from 'elysia';
import { managementCredentials } from '../auth/management.ts';
import type { AppDeps } from '../deps.ts';
import { createCallerFactory, createContextInner, zodMessage } from '../trpc/init.ts';
import { appRouter } from '../trpc/routers/index.ts';
import { managementError } from './errors.ts';
import { requestIdOf } from './request-id.ts';
import { ZodError } from 'zod';

const createCaller = createCallerFactory(appRouter);
type Caller = ReturnType<typeof createCaller>;

function queryObject(request: Request): Record<string, string> {
  return Object.fromEntries(new URL(request.url).searchParams);
}

/**
 * REST aliases of SPEC §6: each calls the same tRPC procedure through a server-side caller, so
 * auth and validation exist once, and wraps the result in `{ success, message, data }`.
 */
export function restRoutes(deps: AppDeps) {
  const call = async (request: Request, set: { status?: number | string }, run: (caller: Caller) => Promise<unknown>) => {
    const requestId = requestIdOf(request);
    const caller = createCaller(createContextInner(deps, managementCredentials(request.headers), requestId));
    try {
      return { success: true, message: '', data: await run(caller) };
    } catch (err) {
      if (!(err instanceof TRPCError)) throw err;
      set.status = getHTTPStatusCodeFromError(err);
      if (err.code === 'INTERNAL_SERVER_ERROR') {
        deps.logger.error('rest alias failed', { requestId, error: err.cause ?? err });
        return managementError(`internal error (request id ${requestId})`);
      }
      return managementError(err.cause instanceof ZodError ? zodMessage(err.cause) : err.message);
    }
  };
  const self = ({ request, set }: { request: Request; set: { status?: number | string } }) =>
    call(request, set, (c) => c.mj.self(queryObject(request)));
  const all = ({ request, set }: { request: Request; set: { status?: number | string } }) =>
    call(request, set, (c) => c.mj.all(queryObject(request)));
  const status = ({ request, set }: { request: Request; set: { status?: number | string } }) =>
    call(request, set, (c) => c.status());

  return new Elysia({ name: 'rest' })
    .get('/api/mj/self', self, { parse: 'none' })
    .get('/api/mj/self/', self, { parse: 'none' })
    .get('/api/mj', all, { parse: 'none' })
    .get('/api/mj/', all, { parse: 'none' })
    .get('/api/status', status, { parse: 'none' })
    .get('/healthz', () => new Response('ok', { headers: { 'content-type': 'text/plain' } }));
}
