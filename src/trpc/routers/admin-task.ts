import { z } from 'zod';
import { ROLE } from '../../contract/constants.ts';
import type { AppDeps } from '../../deps.ts';
import { failTask, ledgerOf, MAX_FAIL_REASON_CHARS, resyncTask, type TaskAdminEnv } from '../../domain/task-admin.ts';
import { mjIdInputSchema } from '../../domain/task-query.ts';
import { typedAdminTaskItem } from '../../domain/tasks.ts';
import { syncSettingsOf } from '../../domain/upstream-push.ts';
import { adminProcedure, router, userProcedure } from '../init.ts';
import { policyOf, typedAdminTaskItemSchema } from './mj-items.ts';

/** Reconciliation (`admin.task.*`) and the money timeline (`mj.ledger`), SPEC §16. */

const envCache = new WeakMap<AppDeps, TaskAdminEnv>();

function envOf(deps: AppDeps): TaskAdminEnv {
  let env = envCache.get(deps);
  if (!env) {
    env = {
      store: deps.store,
      taskStore: deps.taskStore,
      clock: deps.clock,
      fetch: deps.fetch,
      taskFeed: deps.taskFeed,
      metrics: deps.metrics,
      settings: syncSettingsOf(deps),
      upstreamTimeoutMs: deps.config.upstreamTimeoutMs,
    };
    envCache.set(deps, env);
  }
  return env;
}

export const taskRouter = router({
  /** Fetch the task from its channel now and apply it as the poller would; answers the item as `mj.all` shows it. */
  resync: adminProcedure
    .input(mjIdInputSchema)
    .output(typedAdminTaskItemSchema)
    .mutation(async ({ ctx, input }) =>
      typedAdminTaskItem(await resyncTask(envOf(ctx.deps), input.mj_id), policyOf(ctx.deps)),
    ),

  /** End an unfinished task as FAILURE with `reason`, refunding it exactly once; finished: BAD_REQUEST `task_finished`. */
  fail: adminProcedure
    .input(
      mjIdInputSchema.extend({
        reason: z
          .string()
          .trim()
          .min(1, { message: 'reason is required' })
          .max(MAX_FAIL_REASON_CHARS, { message: `reason is longer than ${MAX_FAIL_REASON_CHARS} characters` }),
      }),
    )
    .output(typedAdminTaskItemSchema)
    .mutation(async ({ ctx, input }) =>
      typedAdminTaskItem(await failTask(envOf(ctx.deps), input.mj_id, input.reason, ctx.user.id), policyOf(ctx.deps)),
    ),
});

export const ledgerItemSchema = z.object({
  time: z.number(),
  kind: z.enum(['charge', 'move', 'refund', 'adjust']),
  quota: z.number(),
  channel_id: z.number(),
  note: z.string(),
});

/** `mj.ledger { mj_id }`: the task's money timeline, oldest first (own task; admins any). */
export const ledger = userProcedure
  .input(mjIdInputSchema)
  .output(z.object({ items: z.array(ledgerItemSchema) }))
  .query(({ ctx, input }) => ledgerOf(envOf(ctx.deps), input.mj_id, ctx.user.role >= ROLE.admin ? null : ctx.user.id));
