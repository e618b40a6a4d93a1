import { z } from 'zod';
import { ROLE } from '../../contract/constants.ts';
import type { TaskRow } from '../../contract/rows.ts';
import { buildWithin, withListingPlace } from '../../domain/answer-limits.ts';
import { AppError } from '../../domain/errors.ts';
import type { PageQuery } from '../../domain/pagination.ts';
import { allTaskQuerySchema, mjIdInputSchema, selfTaskQuerySchema } from '../../domain/task-query.ts';
import {
  allFilter,
  type ImageLinkPolicy,
  selfFilter,
  type TaskFilter,
  typedAdminTaskItem,
  typedTaskItem,
} from '../../domain/tasks.ts';
import { adminProcedure, type Context, router, userProcedure } from '../init.ts';
import { ledger } from './admin-task.ts';
import {
  policyOf,
  typedAdminTaskItemSchema,
  typedAdminTaskPageSchema,
  typedTaskItemSchema,
  typedTaskPageSchema,
} from './mj-items.ts';
import { onTaskUpdate } from './mj-live.ts';
import { submit } from './mj-submit.ts';

export { typedAdminTaskItemSchema, typedTaskItemSchema } from './mj-items.ts';

/**
 * One page of the listing `filter` selects, each row as `item` shows it. The calls of a batch run
 * in turn: once the answer is lost, the rest read nothing (SPEC §10); each holds one of the
 * user's listing places.
 */
function taskPage<T>(
  ctx: Context,
  userId: number,
  filter: TaskFilter,
  paging: PageQuery,
  item: (row: TaskRow, policy: ImageLinkPolicy) => T,
) {
  return ctx.budget.inTurn(() =>
    withListingPlace(
      ctx.deps.taskStore,
      userId,
      async () => {
        const page = await ctx.deps.taskStore.tasks.list(filter, paging);
        const policy = policyOf(ctx.deps);
        const items = await buildWithin(ctx.budget, page.items, (r) => item(r, policy));
        return { ...page, items };
      },
      ctx.budget,
    ),
  );
}

export const mjRouter = router({
  /** The caller's own tasks (SPEC §6.1). */
  self: userProcedure
    .input(selfTaskQuerySchema.optional())
    .output(typedTaskPageSchema)
    .query(({ ctx, input = {} }) => taskPage(ctx, ctx.user.id, selfFilter(ctx.user.id, input), input, typedTaskItem)),

  /** Every user's tasks, with owner and channel (SPEC §6.2). */
  all: adminProcedure
    .input(allTaskQuerySchema.optional())
    .output(typedAdminTaskPageSchema)
    .query(({ ctx, input = {} }) => taskPage(ctx, ctx.user.id, allFilter(input), input, typedAdminTaskItem)),

  /** One task, exactly as the caller's listing shows it. */
  get: userProcedure
    .input(mjIdInputSchema)
    .output(z.union([typedAdminTaskItemSchema, typedTaskItemSchema]))
    .query(async ({ ctx, input }) => {
      const admin = ctx.user.role >= ROLE.admin;
      const row = await ctx.deps.taskStore.tasks.findByMjId(input.mj_id, admin ? null : ctx.user.id);
      if (!row) throw new AppError('NOT_FOUND', `task ${input.mj_id} not found`);
      const policy = policyOf(ctx.deps);
      return admin ? typedAdminTaskItem(row, policy) : typedTaskItem(row, policy);
    }),

  /** Typed submits through the relay's own flow (SPEC §14). */
  submit,

  /** The task's money timeline (SPEC §16). */
  ledger,

  /** Live task changes over SSE (SPEC §14). */
  onTaskUpdate,
});
