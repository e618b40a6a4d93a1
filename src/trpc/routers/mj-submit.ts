import { z } from 'zod';
import type { AppDeps } from '../../deps.ts';
import { AppError } from '../../domain/errors.ts';
import { relayEnvOf } from '../../domain/relay/env.ts';
import { submitTyped, typedSubmitSchema } from '../../domain/relay/typed-submit.ts';
import type { RelayEnv } from '../../domain/relay/types.ts';
import { userProcedure } from '../init.ts';
import { itemFor, typedAdminTaskItemSchema, typedTaskItemSchema } from './mj-items.ts';

const envCache = new WeakMap<AppDeps, RelayEnv>();

/**
 * `mj.submit`: any relay submit kind as a typed mutation, run by the relay's own submit flow and
 * billed to one of the caller's API keys; answers the task as `mj.get` shows it (from the row the
 * flow wrote, read back only when another writer ended the task first).
 */
export const submit = userProcedure
  .input(typedSubmitSchema)
  .output(z.union([typedAdminTaskItemSchema, typedTaskItemSchema]))
  .mutation(async ({ ctx, input }) => {
    let env = envCache.get(ctx.deps);
    if (!env) envCache.set(ctx.deps, (env = relayEnvOf(ctx.deps)));
    const { taskId, task } = await submitTyped(env, ctx.user.id, input, ctx.requestId);
    // The flow has the row it just wrote unless another writer ended the task first: then read it.
    const row = task ?? (await ctx.deps.taskStore.tasks.byId(taskId));
    if (!row) throw new AppError('NOT_FOUND', `task ${taskId} not found`);
    return itemFor(ctx.deps, ctx.user.role, row);
  });
