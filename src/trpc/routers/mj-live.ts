import { TRPCError, type TrackedEnvelope, tracked } from '@trpc/server';
import { z } from 'zod';
import { AUTH_MESSAGES } from '../../auth/management.ts';
import { ROLE } from '../../contract/constants.ts';
import type { TaskRow } from '../../contract/rows.ts';
import { chargeAnswer, liveReplayBounds, openSubscription } from '../../domain/answer-limits.ts';
import type { AppError } from '../../domain/errors.ts';
import { typedAdminTaskItem, typedTaskItem } from '../../domain/tasks.ts';
import { type Context, userProcedure } from '../init.ts';
import { sessionWatchOf } from '../live-sessions.ts';
import { policyOf, type typedAdminTaskItemSchema, type typedTaskItemSchema } from './mj-items.ts';

export const onTaskUpdateInputSchema = z
  .object({
    /** Admins only: every user's tasks, as §6.2 items. */
    all: z.boolean().optional(),
    /** Set by tRPC's httpSubscriptionLink on reconnect (the last `tracked` id it received). */
    lastEventId: z.string().max(100).nullish(),
  })
  .optional();

/** What a subscriber receives, spelled from the zod item schemas so client declarations stand alone. */
type LiveItem = z.infer<typeof typedTaskItemSchema> | z.infer<typeof typedAdminTaskItemSchema>;

/**
 * Sent instead of a replay that is too long (more than 1,000 changes or 8 MiB, SPEC §10): what was
 * missed is not sent; the client reloads its listing and keeps following the live changes.
 */
type LiveReload = { reload: true };

type User = { id: number; role: number };

/**
 * `mj.onTaskUpdate`: the caller's changed tasks as they are written (SPEC §14), each as the item
 * of `mj.self` (or of `mj.all` with `{ all: true }` for admins), `tracked` by its feed event id
 * so a client that reconnects with the last id misses nothing. At most 8 open per user (the 9th
 * is 429, refused before the stream starts); each ends once its credentials stop authorizing it.
 *
 * Over HTTP (`GET /trpc/mj.onTaskUpdate`, SSE) the streams tRPC would accept are served by
 * src/http/live-sse.ts instead (one read and one serialisation per change, not per stream, issue
 * 15); this procedure defines the contract (the client's types) and answers what that path hands
 * back to tRPC (refusals) and the other transports.
 */
export const onTaskUpdate = userProcedure
  .input(onTaskUpdateInputSchema)
  .subscription(async ({ ctx, input, signal }) => {
    const all = input?.all === true;
    if (all && ctx.user.role < ROLE.admin)
      throw new TRPCError({ code: 'FORBIDDEN', message: AUTH_MESSAGES.insufficient });
    const close = openSubscription(ctx.deps.taskStore, ctx.user.id);
    // A stream tRPC never starts (the client went away first) still gives its place back.
    signal?.addEventListener('abort', close, { once: true });
    return stream(ctx, ctx.user, all, input?.lastEventId ?? null, signal, close);
  });

async function* stream(
  ctx: Context,
  user: User,
  all: boolean,
  lastEventId: string | null,
  signal: AbortSignal | undefined,
  close: () => void,
): AsyncGenerator<TrackedEnvelope<LiveItem | LiveReload>> {
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  signal?.addEventListener('abort', onAbort);
  if (signal?.aborted) stop.abort();
  let revoked: AppError | null = null;
  const unwatch = sessionWatchOf(ctx.deps.store).watch(ctx.credentials, all ? ROLE.admin : ROLE.common, (err) => {
    revoked = err;
    stop.abort();
  });
  const itemOf = (row: TaskRow): LiveItem =>
    all ? typedAdminTaskItem(row, policyOf(ctx.deps)) : typedTaskItem(row, policyOf(ctx.deps));
  try {
    const replay = liveReplayBounds(ctx.deps.taskStore, user.id, itemOf);
    const feed = ctx.deps.taskFeed.subscribe({ userId: all ? null : user.id }, lastEventId, stop.signal, replay);
    for await (const event of feed) {
      if (event.reload) {
        // Refused for its size (or its 1,000 changes): charged as a full answer, so reconnecting
        // again and again is no free way to keep the server reading.
        chargeAnswer(ctx.deps.taskStore, user.id, replay.bytes);
        yield tracked<LiveItem | LiveReload>(event.eventId, { reload: true });
      } else yield tracked<LiveItem | LiveReload>(event.eventId, itemOf(event.row));
    }
    const err = revoked as AppError | null;
    if (err)
      throw new TRPCError({ code: err.kind === 'FORBIDDEN' ? 'FORBIDDEN' : 'UNAUTHORIZED', message: err.message });
  } finally {
    unwatch();
    close();
    signal?.removeEventListener('abort', onAbort);
  }
}
