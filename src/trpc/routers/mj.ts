import { z } from 'zod';
import { ROLE } from '../../db/schema/index.ts';
import { AppError } from '../../domain/errors.ts';
import { allTaskQuerySchema, mjIdInputSchema, selfTaskQuerySchema } from '../../domain/task-query.ts';
import {
  adminTaskItem, allFilter, findTaskByMjId, listTasks, selfFilter, taskItem, type ImageLinkPolicy,
} from '../../domain/tasks.ts';
import type { AppDeps } from '../../deps.ts';
import { adminProcedure, router, userProcedure } from '../init.ts';

const taskItemShape = {
  id: z.number(), mj_id: z.string(), action: z.string(), prompt: z.string(), prompt_en: z.string(),
  status: z.string(), progress: z.string(), image_url: z.string(), video_url: z.string(), video_urls: z.string(),
  submit_time: z.number(), start_time: z.number(), finish_time: z.number(), fail_reason: z.string(),
  quota: z.number(), code: z.number(), description: z.string(), state: z.string(), buttons: z.string(),
  properties: z.string(),
};
export const taskItemSchema = z.object(taskItemShape);
const { id, ...restOfItem } = taskItemShape;
export const adminTaskItemSchema = z.object({ id, user_id: z.number(), channel_id: z.number(), ...restOfItem });

const pageOf = <T extends z.ZodType>(item: T) =>
  z.object({ items: z.array(item), total: z.number(), page: z.number(), page_size: z.number() });

function policyOf(deps: AppDeps): ImageLinkPolicy {
  return { forward: deps.options.get('mj_forward_url_enabled'), serverAddress: deps.serverAddress() };
}

export const mjRouter = router({
  /** The caller's own tasks (SPEC §6.1). */
  self: userProcedure.input(selfTaskQuerySchema.optional()).output(pageOf(taskItemSchema)).query(({ ctx, input = {} }) => {
    const page = listTasks(ctx.deps.db, selfFilter(ctx.user.id, input), input);
    const policy = policyOf(ctx.deps);
    return { ...page, items: page.items.map((r) => taskItem(r, policy)) };
  }),

  /** Every user's tasks, with owner and channel (SPEC §6.2). */
  all: adminProcedure.input(allTaskQuerySchema.optional()).output(pageOf(adminTaskItemSchema)).query(({ ctx, input = {} }) => {
    const page = listTasks(ctx.deps.db, allFilter(input), input);
    const policy = policyOf(ctx.deps);
    return { ...page, items: page.items.map((r) => adminTaskItem(r, policy)) };
  }),

  /** One task, exactly as the caller's listing shows it. */
  get: userProcedure.input(mjIdInputSchema).output(z.union([adminTaskItemSchema, taskItemSchema])).query(({ ctx, input }) => {
    const admin = ctx.user.role >= ROLE.admin;
    const row = findTaskByMjId(ctx.deps.db, input.mj_id, admin ? null : ctx.user.id);
    if (!row) throw new AppError('NOT_FOUND', `task ${input.mj_id} not found`);
    const policy = policyOf(ctx.deps);
    return admin ? adminTaskItem(row, policy) : taskItem(row, policy);
  }),
});
