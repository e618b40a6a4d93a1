import { TRPCError } from '@trpc/server';
import { getHTTPStatusCodeFromError } from '@trpc/server/http';
import { Elysia } from 'elysia';
import { ZodError } from 'zod';
import { authenticateManagement, managementCredentials } from '../auth/management.ts';
import { ROLE } from '../contract/constants.ts';
import type { AppDeps } from '../deps.ts';
import { AnswerBudget, limitsOf, withListingPlace } from '../domain/answer-limits.ts';
import { AppError, DATABASE_UNAVAILABLE, HTTP_STATUS_OF } from '../domain/errors.ts';
import { allTaskRestQuerySchema, selfTaskRestQuerySchema } from '../domain/task-query.ts';
import { allFilter, selfFilter } from '../domain/tasks.ts';
import { createCallerFactory, createContextInner, zodMessage } from '../trpc/init.ts';
import { appRouter } from '../trpc/routers/index.ts';
import { managementError } from './errors.ts';
import { requestIdOf } from './request-id.ts';

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
  const call = async (
    request: Request,
    set: { status?: number | string },
    run: (caller: Caller) => Promise<unknown>,
  ) => {
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
  /**
   * The two listings are the hot REST paths: they run the same auth (authenticateManagement), the
   * same input schemas and the same listTasks/taskItem as mj.self / mj.all, without the tRPC
   * caller and its output validation (half of a listing request's CPU, measured by
   * scripts/rest-overhead.ts). tests/integration/listing.test.ts checks both surfaces answer alike.
   */
  const listing =
    (admin: boolean) =>
    async ({
      request,
      set,
    }: {
      request: Request;
      set: { status?: number | string; headers: Record<string, string | number> };
    }) => {
      const requestId = requestIdOf(request);
      try {
        const user = await authenticateManagement(
          deps.store,
          managementCredentials(request.headers),
          admin ? ROLE.admin : ROLE.common,
        );
        const query = queryObject(request);
        const policy = { forward: deps.options.get('mj_forward_url_enabled'), serverAddress: deps.serverAddress() };
        const input = admin ? allTaskRestQuerySchema.parse(query) : selfTaskRestQuerySchema.parse(query);
        const filter = admin ? allFilter(input) : selfFilter(user.id, input);
        // SPEC §10: at most 4 listings of one user in flight, and one answer within the budget. The
        // page is rendered where it was read (a worker, usually): it is measured there before it is sent.
        const budget = new AnswerBudget(limitsOf(deps.taskStore).answerBytes);
        const body = await withListingPlace(
          deps.taskStore,
          user.id,
          async () => {
            const json = await deps.taskStore.tasks.listJson(filter, input, { admin, policy });
            budget.take(Buffer.byteLength(json));
            return json;
          },
          budget,
        );
        set.headers['content-type'] = 'application/json;charset=utf-8';
        return body;
      } catch (err) {
        if (err instanceof AppError) {
          set.status = HTTP_STATUS_OF[err.kind];
          return managementError(err.message);
        }
        if (err instanceof ZodError) {
          set.status = 400;
          return managementError(zodMessage(err));
        }
        deps.logger.error('rest alias failed', { requestId, error: err });
        set.status = 500;
        return managementError(`internal error (request id ${requestId})`);
      }
    };
  const self = listing(false);
  const all = listing(true);
  const status = ({ request, set }: { request: Request; set: { status?: number | string } }) =>
    call(request, set, (c) => c.status());

  return new Elysia({ name: 'rest' })
    .get('/api/mj/self', self, { parse: 'none' })
    .get('/api/mj/self/', self, { parse: 'none' })
    .get('/api/mj', all, { parse: 'none' })
    .get('/api/mj/', all, { parse: 'none' })
    .get('/api/status', status, { parse: 'none' })
    .get('/healthz', async () =>
      !deps.databaseHealthy || (await deps.databaseHealthy())
        ? new Response('ok', { headers: { 'content-type': 'text/plain' } })
        : Response.json(managementError(DATABASE_UNAVAILABLE), { status: 503 }),
    );
}
