import { z } from 'zod';
import { pageQuerySchema, pageSchema } from '../../domain/pagination.ts';
import { MAX_RATE_LIMIT_PER_MINUTE } from '../../domain/rate-limit.ts';
import { createToken, deleteToken, listTokens, updateToken } from '../../domain/tokens.ts';
import { router, userProcedure } from '../init.ts';

const quota = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
/** Relay submits per minute; 0 = the server default (RELAY_RATE_LIMIT_PER_MINUTE). */
const rateLimit = z.number().int().min(0).max(MAX_RATE_LIMIT_PER_MINUTE);
const expiredTime = z
  .number()
  .int()
  .refine((v) => v === -1 || v > 0, { message: 'expired_time must be -1 (never) or a time in ms' });

export const tokenViewSchema = z.object({
  id: z.number(),
  user_id: z.number(),
  name: z.string(),
  key: z.string(),
  status: z.number(),
  remain_quota: z.number(),
  unlimited_quota: z.boolean(),
  used_quota: z.number(),
  expired_time: z.number(),
  created_time: z.number(),
  accessed_time: z.number(),
  rate_limit_per_minute: z.number(),
  webhook_secret: z.string(),
});

export const tokenRouter = router({
  list: userProcedure
    .input(pageQuerySchema.optional())
    .output(pageSchema(tokenViewSchema))
    .query(({ ctx, input }) => listTokens(ctx.deps.store, ctx.user.id, input ?? {})),

  /** The only call that returns the full key (`sk-...`) and, with it, the full webhook secret. */
  create: userProcedure
    .input(
      z.object({
        name: z.string().trim().min(1).max(64),
        remain_quota: quota.optional(),
        unlimited_quota: z.boolean().optional(),
        expired_time: expiredTime.optional(),
        rate_limit_per_minute: rateLimit.optional(),
      }),
    )
    .output(tokenViewSchema)
    .mutation(({ ctx, input }) => createToken(ctx.deps.store, ctx.deps.clock, ctx.user.id, input)),

  update: userProcedure
    .input(
      z.object({
        id: z.number().int().positive(),
        name: z.string().trim().min(1).max(64).optional(),
        status: z.union([z.literal(1), z.literal(2)]).optional(),
        remain_quota: quota.optional(),
        unlimited_quota: z.boolean().optional(),
        expired_time: expiredTime.optional(),
        rate_limit_per_minute: rateLimit.optional(),
        /** New webhook signing secret, returned in full in this answer only; the old one still signs beside it for 24 h. */
        rotate_webhook_secret: z.boolean().optional(),
      }),
    )
    .output(tokenViewSchema)
    .mutation(({ ctx, input }) => updateToken(ctx.deps.store, ctx.deps.clock, ctx.user.id, input)),

  delete: userProcedure
    .input(z.object({ id: z.number().int().positive() }))
    .output(z.object({ id: z.number() }))
    .mutation(({ ctx, input }) => deleteToken(ctx.deps.store, ctx.user.id, input.id)),
});
