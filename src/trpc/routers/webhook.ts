import { z } from 'zod';
import { ROLE } from '../../contract/constants.ts';
import { intParam, pageQuerySchema, pageSchema } from '../../domain/pagination.ts';
import { listDeliveries } from '../../domain/webhooks.ts';
import { router, userProcedure } from '../init.ts';

export const deliveryViewSchema = z.object({
  id: z.number(),
  task_id: z.number(),
  mj_id: z.string(),
  user_id: z.number(),
  url: z.string(),
  status: z.enum(['pending', 'delivered', 'failed']),
  attempts: z.number(),
  last_error: z.string(),
  next_attempt_at: z.number(),
  created_time: z.number(),
  delivered_time: z.number(),
});

export const webhookRouter = router({
  /** Webhook deliveries, newest first (SPEC §15): a user's own; an admin's all, or one user's with `user_id`. */
  list: userProcedure
    .input(pageQuerySchema.extend({ user_id: intParam('user_id', 1, 'a positive integer') }).optional())
    .output(pageSchema(deliveryViewSchema))
    .query(({ ctx, input = {} }) => {
      const admin = ctx.user.role >= ROLE.admin;
      const userId = admin ? (input.user_id ?? null) : ctx.user.id;
      return listDeliveries(ctx.deps.store, userId, input);
    }),
});
