import { tracked, TRPCError } from '@trpc/server';
import { z } from 'zod';
import { AUTH_MESSAGES } from '../../auth/management.ts';
import { ROLE } from '../../db/schema/index.ts';
import { typedAdminTaskItem, typedTaskItem } from '../../domain/tasks.ts';
import { userProcedure } from '../init.ts';
import { policyOf, typedAdminTaskItemSchema, typedTaskItemSchema } from './mj-items.ts';

export const onTaskUpdateInputSchema = z.object({
  /** Admins only: every user's tasks, as §6.2 items. */
  all: z.boolean().optional(),
  /** Set by tRPC's httpSubscriptionLink on reconnect (the last `tracked` id it received). */
  lastEventId: z.string().max(100).nullish(),
}).optional();

/**
 * `mj.onTaskUpdate`: the caller's changed tasks as they are written (SPEC §14), each as the item
 * of `mj.self` (or of `mj.all` with `{ all: true }` for admins), `tracked` by its feed event id
 * so a client that reconnects with the last id misses nothing.
 */
/** What a subscriber receives, spelled from the zod item schemas so client declarations stand alone. */
type LiveItem = z.infer<typeof typedTaskItemSchema> | z.infer<typeof typedAdminTaskItemSchema>;

export const onTaskUpdate = userProcedure.input(onTaskUpdateInputSchema).subscription(async function* ({ ctx, input, signal }) {
  const all = input?.all === true;
  if (all && ctx.user.role < ROLE.admin) throw new TRPCError({ code: 'FORBIDDEN', message: AUTH_MESSAGES.insufficient });
  const stop = signal ?? new AbortController().signal;
  const feed = ctx.deps.taskFeed.subscribe({ userId: all ? null : ctx.user.id }, input?.lastEventId ?? null, stop);
  for await (const { eventId, row } of feed) {
    const policy = policyOf(ctx.deps);
    const item: LiveItem = all ? typedAdminTaskItem(row, policy) : typedTaskItem(row, policy);
    yield tracked(eventId, item);
  }
});
