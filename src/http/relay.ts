import { Elysia } from 'elysia';
import { authenticateRelay, type RelayCaller } from '../auth/relay.ts';
import type { AppDeps } from '../deps.ts';
import { AppError, type AppErrorKind, HTTP_STATUS_OF } from '../domain/errors.ts';
import { RateLimitedError } from '../domain/rate-limit.ts';
import { relayEnvOf } from '../domain/relay/env.ts';
import { fetchRelayTask, listRelayTasks, relayImageSeed } from '../domain/relay/queries.ts';
import { relaySubmitRequest } from '../domain/relay/request.ts';
import { SUBMIT_ROUTES, type SubmitKind } from '../domain/relay/schemas.ts';
import { submitTask } from '../domain/relay/submit.ts';
import type { RelayAnswer, RelayEnv } from '../domain/relay/types.ts';
import { readBodyText } from './body.ts';
import { relayAuthError, relayError } from './errors.ts';
import { nulMessage, nulPathIn } from './nul.ts';
import { requestIdOf } from './request-id.ts';

/** The numeric midjourney-proxy code of a local refusal: 3 no channel, 5 upstream trouble, else 4. */
const MJ_CODE_OF: Partial<Record<AppErrorKind, number>> = { UNAVAILABLE: 3, UPSTREAM: 5, TIMEOUT: 5, DATABASE: 5 };

type Set = { status?: number | string; headers: Record<string, string | number> };

/** Body of a relay request, read by us (routes use `parse: 'none'`) so bad JSON gets our 400. */
async function readJson(request: Request): Promise<unknown> {
  const text = await readBodyText(request);
  if (text.trim() === '') return undefined;
  let body: unknown;
  try {
    body = JSON.parse(text) as unknown;
  } catch {
    throw new AppError('BAD_REQUEST', 'request body is not valid JSON', 'invalid_json');
  }
  const nulField = text.includes('\\u0000') ? nulPathIn(body) : null;
  if (nulField !== null) throw new AppError('BAD_REQUEST', nulMessage(nulField), 'invalid_text');
  return body;
}

/** Path and query as received: forwarded upstream unchanged, mode prefix included. */
function pathOf(request: Request): string {
  const url = new URL(request.url);
  return url.pathname + url.search;
}

/**
 * Relay API (SPEC §7): every route under `/mj/...` and `/:mode/mj/...`. Each handler
 * authenticates the API key, calls one domain function and answers JSON; local refusals use the
 * midjourney-proxy envelope, key failures the OpenAI-style body of SPEC §5.2.
 */
export function relayRoutes(deps: AppDeps) {
  const env: RelayEnv = relayEnvOf(deps);

  async function run(
    request: Request,
    set: Set,
    handle: (caller: RelayCaller) => Promise<RelayAnswer> | RelayAnswer,
  ): Promise<unknown> {
    let caller: RelayCaller;
    try {
      caller = await authenticateRelay(deps.store, request.headers, deps.clock.now());
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      set.status = HTTP_STATUS_OF[err.kind];
      // An unreachable database is no key error: the relay's own envelope, as for any other request.
      if (err.kind === 'DATABASE') return relayError(MJ_CODE_OF.DATABASE ?? 5, err.message);
      return relayAuthError(err.message, err.code ?? 'invalid_api_key');
    }
    try {
      const answer = await handle(caller);
      set.status = answer.status;
      return answer.body;
    } catch (err) {
      if (err instanceof RateLimitedError) {
        // SPEC §15: the OpenAI-style body of the key errors, and when to come back.
        set.status = 429;
        set.headers['retry-after'] = String(err.retryAfterSeconds);
        return relayAuthError(err.message, 'rate_limit_exceeded');
      }
      if (!(err instanceof AppError)) throw err;
      set.status = HTTP_STATUS_OF[err.kind];
      return relayError(MJ_CODE_OF[err.kind] ?? 4, err.message);
    }
  }

  const callerInfo = (c: RelayCaller) => ({
    userId: c.user.id,
    tokenId: c.token.id,
    unlimitedToken: c.token.unlimitedQuota,
    rateLimitPerMinute: c.token.rateLimitPerMinute,
  });

  const submit =
    (kind: SubmitKind) =>
    ({ request, set }: { request: Request; set: Set }) =>
      run(request, set, async (caller) => {
        const body = await readJson(request);
        const path = pathOf(request);
        // The body becomes the typed request once the domain has passed the caller's rate limit.
        return submitTask(env, callerInfo(caller), {
          kind,
          requestId: requestIdOf(request),
          read: () => relaySubmitRequest(kind, path, body),
        });
      });

  const fetchTask = ({ request, set, params }: { request: Request; set: Set; params: { id: string } }) =>
    run(request, set, async (c) => ({ status: 200, body: await fetchRelayTask(env, c.user.id, params.id) }));

  const listByCondition = ({ request, set }: { request: Request; set: Set }) =>
    run(request, set, async (c) => ({
      status: 200,
      body: await listRelayTasks(env, c.user.id, await readJson(request)),
    }));

  const imageSeed = ({ request, set, params }: { request: Request; set: Set; params: { id: string } }) =>
    run(request, set, (c) => relayImageSeed(env, c.user.id, params.id, pathOf(request)));

  const app = new Elysia({ name: 'relay' });
  for (const prefix of ['/mj', '/:mode/mj']) {
    for (const [suffix, kind] of Object.entries(SUBMIT_ROUTES) as [string, SubmitKind][]) {
      app.post(`${prefix}${suffix}`, submit(kind), { parse: 'none' });
    }
    app.get(`${prefix}/task/:id/fetch`, fetchTask, { parse: 'none' });
    app.get(`${prefix}/task/:id/image-seed`, imageSeed, { parse: 'none' });
    app.post(`${prefix}/task/list-by-condition`, listByCondition, { parse: 'none' });
  }
  return app;
}
