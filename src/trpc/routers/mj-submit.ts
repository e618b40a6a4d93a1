import { z } from 'zod';
import type { AppDeps } from '../../deps.ts';
import { AppError } from '../../domain/errors.ts';
import type { RelayEnv } from '../../domain/relay/types.ts';
import { notifySecretsOf, upstreamHooks } from '../../domain/upstream-push.ts';
import { submitTyped, typedSubmitSchema } from '../../domain/relay/typed-submit.ts';
import { userProcedure } from '../init.ts';
import { itemFor, typedAdminTaskItemSchema, typedTaskItemSchema } from './mj-items.ts';

/**
 * The relay's environment, built from the app's dependencies: the one builder of the relay routes
 * and of `mj.submit`, so both run the same flow (failover, rate limits, metrics, feed).
 */
export function relayEnvOf(deps: AppDeps): RelayEnv {
  return {
    store: deps.store, taskStore: deps.taskStore, options: deps.options, clock: deps.clock, fetch: deps.fetch, logger: deps.logger,
    metrics: deps.metrics, upstreamTimeoutMs: deps.config.upstreamTimeoutMs,
    submitFailover: deps.config.submitFailover, defaultRateLimitPerMinute: deps.config.relayRateLimitPerMinute,
    serverAddress: deps.serverAddress, taskFeed: deps.taskFeed,
    upstreamHooks: upstreamHooks(deps.options, notifySecretsOf(deps.store.options), () => deps.config.upstreamNotifyBaseUrl ?? deps.serverAddress()),
  };
}

const envCache = new WeakMap<AppDeps, RelayEnv>();

/**
 * `mj.submit`: any relay submit kind as a typed mutation, run by the relay's own submit flow and
 * billed to one of the caller's API keys; answers the task as `mj.get` shows it.
 */
export const submit = userProcedure
  .input(typedSubmitSchema)
  .output(z.union([typedAdminTaskItemSchema, typedTaskItemSchema]))
  .mutation(async ({ ctx, input }) => {
    let env = envCache.get(ctx.deps);
    if (!env) envCache.set(ctx.deps, (env = relayEnvOf(ctx.deps)));
    const taskId = await submitTyped(env, ctx.user.id, input, ctx.requestId);
    const row = await ctx.deps.taskStore.tasks.byId(taskId);
    if (!row) throw new AppError('NOT_FOUND', `task ${taskId} not found`);
    return itemFor(ctx.deps, ctx.user.role, row);
  });
