import { z } from 'zod';
import { publicProcedure, router } from '../init.ts';
import { adminRouter } from './admin.ts';
import { mjRouter } from './mj.ts';
import { tokenRouter } from './token.ts';
import { userRouter } from './user.ts';
import { webhookRouter } from './webhook.ts';

export const statusSchema = z.object({
  version: z.string(),
  server_address: z.string(),
  mj_forward_url_enabled: z.boolean(),
  uptime_ms: z.number(),
  database: z.enum(['sqlite', 'postgres']),
  poller: z.enum(['leader', 'standby', 'off']),
});

export const appRouter = router({
  status: publicProcedure
    .input(z.object({}).optional())
    .output(statusSchema)
    .query(({ ctx }) => ({
      version: ctx.deps.version,
      server_address: ctx.deps.serverAddress(),
      mj_forward_url_enabled: ctx.deps.options.get('mj_forward_url_enabled'),
      uptime_ms: ctx.deps.clock.now() - ctx.deps.startedAt,
      database: ctx.deps.database,
      poller: ctx.deps.pollerRole(),
    })),
  mj: mjRouter,
  user: userRouter,
  token: tokenRouter,
  admin: adminRouter,
  webhook: webhookRouter,
});

export type AppRouter = typeof appRouter;
