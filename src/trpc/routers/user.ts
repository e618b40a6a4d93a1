import { z } from 'zod';
import { regenerateAccessToken, userView } from '../../domain/users.ts';
import { router, userProcedure } from '../init.ts';

export const userViewSchema = z.object({
  id: z.number(),
  username: z.string(),
  display_name: z.string(),
  role: z.number(),
  status: z.number(),
  quota: z.number(),
  used_quota: z.number(),
  request_count: z.number(),
});

export const userRouter = router({
  self: userProcedure
    .input(z.object({}).optional())
    .output(userViewSchema)
    .query(({ ctx }) => userView(ctx.user)),

  /** The old access token stops working at once. */
  regenerateAccessToken: userProcedure
    .input(z.object({}).optional())
    .output(z.object({ access_token: z.string() }))
    .mutation(async ({ ctx }) => ({ access_token: await regenerateAccessToken(ctx.deps.store, ctx.user.id) })),
});
