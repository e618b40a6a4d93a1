import { z } from 'zod';
import type { Store } from '../../contract/index.ts';
import { createChannel, deleteChannel, listChannels, updateChannel } from '../../domain/channels.ts';
import { testChannel } from '../../domain/channels-test.ts';
import { listLogs, logListQuerySchema } from '../../domain/logs.ts';
import { OPTION_KEYS } from '../../domain/options.ts';
import { type Page, type PageQuery, pageOf, pageQuerySchema, pageSchema } from '../../domain/pagination.ts';
import { retentionEnvOf, runRetention } from '../../domain/retention.ts';
import { createUser, listUsers, updateUser } from '../../domain/users.ts';
import { adminProcedure, router } from '../init.ts';
import { taskRouter } from './admin-task.ts';
import { userViewSchema } from './user.ts';

const page = pageSchema;

const quota = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const role = z.union([z.literal(1), z.literal(10)]);
const httpUrl = z
  .string()
  .trim()
  .max(2048, { message: 'base_url is too long (at most 2048 characters)' })
  .url({ message: 'base_url must be an http(s) URL' })
  .refine((u) => /^https?:\/\//i.test(u), { message: 'base_url must be an http(s) URL' });

const channelViewSchema = z.object({
  id: z.number(),
  name: z.string(),
  base_url: z.string(),
  key: z.string(),
  status: z.number(),
  priority: z.number(),
  weight: z.number(),
  used_quota: z.number(),
  created_time: z.number(),
});

const channelFields = {
  name: z.string().trim().min(1).max(64),
  base_url: httpUrl,
  key: z.string().max(512),
  priority: z.number().int().min(-1_000_000).max(1_000_000).optional(),
  weight: z.number().int().min(0).max(1_000_000).optional(),
  status: z.union([z.literal(1), z.literal(2), z.literal(3)]).optional(),
};

/** A page of a management list (no query: the first page of 20), read from the store by `list`. */
function storeList<T extends z.ZodType>(item: T, list: (store: Store, q: PageQuery) => Promise<Page<z.input<T>>>) {
  return adminProcedure
    .input(pageQuerySchema.optional())
    .output(page(item))
    .query(({ ctx, input }) => list(ctx.deps.store, input ?? {}));
}

const userRouter = router({
  list: storeList(userViewSchema, listUsers),

  /** Names of a set of users (the owners on one page of All tasks); unknown ids are left out. */
  names: adminProcedure
    .input(z.object({ ids: z.array(z.number().int().positive()).max(100, { message: 'ids holds at most 100 ids' }) }))
    .output(z.array(z.object({ id: z.number(), username: z.string(), display_name: z.string() })))
    .query(async ({ ctx, input }) => {
      const rows = await Promise.all([...new Set(input.ids)].map((id) => ctx.deps.store.users.byId(id)));
      return rows.flatMap((r) => (r ? [{ id: r.id, username: r.username, display_name: r.displayName }] : []));
    }),

  /** Returns the new user's access token (the only time it is shown). */
  create: adminProcedure
    .input(
      z.object({
        username: z
          .string()
          .trim()
          .min(1)
          .max(64)
          .regex(/^[\w.@-]+$/, { message: 'username may hold letters, digits and _ . @ -' }),
        role: role.optional(),
        quota: quota.optional(),
        display_name: z.string().trim().max(64).optional(),
      }),
    )
    .output(z.object({ id: z.number(), username: z.string(), role: z.number(), access_token: z.string() }))
    .mutation(({ ctx, input }) => createUser(ctx.deps.store, ctx.deps.clock, ctx.user, input)),

  update: adminProcedure
    .input(
      z.object({
        id: z.number().int().positive(),
        status: z.union([z.literal(1), z.literal(2)]).optional(),
        quota: quota.optional(),
        role: role.optional(),
        display_name: z.string().trim().max(64).optional(),
      }),
    )
    .output(userViewSchema)
    .mutation(({ ctx, input }) => updateUser(ctx.deps.store, ctx.deps.clock, ctx.user, input)),
});

const channelRouter = router({
  list: storeList(channelViewSchema, listChannels),
  create: adminProcedure
    .input(z.object(channelFields))
    .output(channelViewSchema)
    .mutation(({ ctx, input }) => createChannel(ctx.deps.store, ctx.deps.clock, input)),
  update: adminProcedure
    .input(
      z.object({
        id: z.number().int().positive(),
        name: channelFields.name.optional(),
        base_url: httpUrl.optional(),
        key: channelFields.key.optional(),
        priority: channelFields.priority,
        weight: channelFields.weight,
        status: channelFields.status,
      }),
    )
    .output(channelViewSchema)
    .mutation(({ ctx, input }) => updateChannel(ctx.deps.store, input)),
  delete: adminProcedure
    .input(z.object({ id: z.number().int().positive() }))
    .output(z.object({ id: z.number() }))
    .mutation(({ ctx, input }) => deleteChannel(ctx.deps.store, input.id)),
  /** Calls the upstream with the channel's key and reports whether it answered, and how fast. */
  test: adminProcedure
    .input(z.object({ id: z.number().int().positive() }))
    .output(
      z.object({
        success: z.boolean(),
        latency_ms: z.number(),
        status: z.number().optional(),
        message: z.string().optional(),
      }),
    )
    .mutation(({ ctx, input }) => testChannel(ctx.deps, input.id, Math.min(15_000, ctx.deps.config.upstreamTimeoutMs))),
});

const optionItemSchema = z.object({ key: z.string(), value: z.unknown() });

const optionRouter = router({
  list: adminProcedure
    .input(pageQuerySchema.optional())
    .output(page(optionItemSchema))
    .query(({ ctx, input = {} }) => {
      const values = ctx.deps.options.all();
      const { page: p, pageSize, offset } = pageOf(input);
      const items = OPTION_KEYS.slice(offset, offset + pageSize).map((key) => ({ key, value: values[key] }));
      return { items, total: OPTION_KEYS.length, page: p, page_size: pageSize };
    }),
  /** `value` is JSON of the option's type; unknown keys and wrong types are BAD_REQUEST. */
  update: adminProcedure
    .input(z.object({ key: z.string().min(1), value: z.unknown() }))
    .output(optionItemSchema)
    .mutation(async ({ ctx, input }) => {
      await ctx.deps.options.set(input.key, input.value);
      return {
        key: input.key,
        value: ctx.deps.options.all()[input.key as keyof ReturnType<typeof ctx.deps.options.all>],
      };
    }),
});

const logItemSchema = z.object({
  id: z.number(),
  user_id: z.number(),
  type: z.number(),
  content: z.string(),
  quota: z.number(),
  model_name: z.string(),
  channel_id: z.number(),
  token_id: z.number(),
  mj_id: z.string(),
  task_id: z.number(),
  created_time: z.number(),
});

const logRouter = router({
  list: adminProcedure
    .input(logListQuerySchema.optional())
    .output(page(logItemSchema))
    .query(({ ctx, input }) => listLogs(ctx.deps.store, input ?? {})),
});

const tableReport = z.object({
  cutoff: z.number().nullable(),
  archived: z.number(),
  removed: z.number(),
  batches: z.number(),
});

const retentionRouter = router({
  /** Run a retention pass now (SPEC §17) and answer what it did; CONFLICT while another pass runs. */
  run: adminProcedure
    .input(z.object({}).optional())
    .output(
      z.object({
        tasks: tableReport,
        logs: tableReport.extend({ carried_forward: z.number() }),
        archive_files: z.array(z.string()),
        repaired_files: z.array(z.string()),
        started_at: z.number(),
        duration_ms: z.number(),
      }),
    )
    .mutation(({ ctx }) => runRetention(retentionEnvOf(ctx.deps))),
});

export const adminRouter = router({
  user: userRouter,
  channel: channelRouter,
  option: optionRouter,
  log: logRouter,
  task: taskRouter,
  retention: retentionRouter,
});
