import { initTRPC, TRPCError } from '@trpc/server';
import type { TRPC_ERROR_CODE_KEY } from '@trpc/server/rpc';
import { ZodError } from 'zod';
import { authenticateManagement, type ManagementCredentials, managementCredentials } from '../auth/management.ts';
import { ROLE } from '../contract/constants.ts';
import type { AppDeps } from '../deps.ts';
import { AnswerBudget, limitsOf } from '../domain/answer-limits.ts';
import { AppError, type AppErrorKind } from '../domain/errors.ts';

// 1. Context ---------------------------------------------------------------------------------

export interface Context {
  deps: AppDeps;
  credentials: ManagementCredentials;
  requestId: string;
  /** The task data this answer may still carry; one per HTTP request, so a batch shares it (SPEC §10). */
  budget: AnswerBudget;
}

/** The inner context: what tests and server-side callers (the REST aliases) build directly. */
export function createContextInner(
  deps: AppDeps,
  credentials: ManagementCredentials,
  requestId: string,
  budget?: AnswerBudget,
): Context {
  return { deps, credentials, requestId, budget: budget ?? new AnswerBudget(limitsOf(deps.taskStore).answerBytes) };
}

/**
 * The caller's credentials: the headers of SPEC §5.1 only. tRPC's `connectionParams` travel in
 * the URL of a subscription (and so in proxies' and browsers' logs): SPEC §10 reads tokens from
 * headers only, so they are ignored; the client and the dashboard send headers (FetchEventSource).
 */
export function requestCredentials(headers: Headers): ManagementCredentials {
  return managementCredentials(headers);
}

// 2. Init ------------------------------------------------------------------------------------

/** First zod issue as `<message>`; the message already names the field. */
export function zodMessage(err: ZodError): string {
  const issue = err.issues[0];
  if (!issue) return 'invalid input';
  const path = issue.path.join('.');
  return path && !issue.message.startsWith(path) ? `${path}: ${issue.message}` : issue.message;
}

const t = initTRPC.context<Context>().create({
  isDev: false,
  // Bun closes a connection idle for 10 s: keep-alive pings hold SSE subscriptions open.
  sse: { ping: { enabled: true, intervalMs: 5_000 }, client: { reconnectAfterInactivityMs: 12_000 } },
  errorFormatter({ shape, error, ctx }) {
    const zod = error.cause instanceof ZodError ? error.cause : null;
    const message = zod
      ? zodMessage(zod)
      : error.code === 'INTERNAL_SERVER_ERROR'
        ? `internal error (request id ${ctx?.requestId ?? 'unknown'})`
        : shape.message;
    return { ...shape, message, data: { ...shape.data, issues: zod ? zod.issues : undefined } };
  },
});

const TRPC_CODE_OF: Record<AppErrorKind, TRPC_ERROR_CODE_KEY> = {
  BAD_REQUEST: 'BAD_REQUEST',
  UNAUTHORIZED: 'UNAUTHORIZED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  UNAVAILABLE: 'SERVICE_UNAVAILABLE',
  UPSTREAM: 'BAD_GATEWAY',
  TIMEOUT: 'GATEWAY_TIMEOUT',
  RATE_LIMITED: 'TOO_MANY_REQUESTS',
  TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  DATABASE: 'SERVICE_UNAVAILABLE',
};

/** Domain errors become tRPC errors with the code of the one table above. */
const mapAppErrors = t.middleware(async ({ next }) => {
  const result = await next();
  if (!result.ok && result.error.cause instanceof AppError) {
    const cause = result.error.cause;
    throw new TRPCError({ code: TRPC_CODE_OF[cause.kind], message: cause.message, cause });
  }
  return result;
});

// 3. Procedures ------------------------------------------------------------------------------

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;

export const publicProcedure = t.procedure.use(mapAppErrors);

function authed(minRole: number) {
  return publicProcedure.use(async ({ ctx, next }) => {
    const user = await authenticateManagement(ctx.deps.store, ctx.credentials, minRole);
    return next({ ctx: { user } });
  });
}

/** Any enabled user (role ≥ 1); resolvers get `ctx.user` non-null. */
export const userProcedure = authed(ROLE.common);
/** Admins and root (role ≥ 10). */
export const adminProcedure = authed(ROLE.admin);
