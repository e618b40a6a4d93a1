import { TRPC_ERROR_CODES_BY_KEY } from '@trpc/server/rpc';
import { authenticateManagement } from '../auth/management.ts';
import { ROLE } from '../contract/constants.ts';
import type { TaskRow } from '../contract/rows.ts';
import type { AppDeps } from '../deps.ts';
import { chargeAnswer, liveReplayBounds, openSubscription } from '../domain/answer-limits.ts';
import type { AppError } from '../domain/errors.ts';
import type { TaskFeedEvent, TaskFeedReload } from '../domain/task-feed.ts';
import { typedAdminTaskItem, typedTaskItem } from '../domain/tasks.ts';
import { requestCredentials } from '../trpc/init.ts';
import { sessionWatchOf } from '../trpc/live-sessions.ts';
import { policyOf } from '../trpc/routers/mj-items.ts';
import { onTaskUpdateInputSchema } from '../trpc/routers/mj-live.ts';

/**
 * `GET /trpc/mj.onTaskUpdate` served without tRPC's per-subscriber generator and stream plumbing
 * (issue 15): the feed reads a change once for every stream (TaskFeed.watch), its item is built
 * and serialised once per audience (the user's own item, the admins' `{ all: true }` item) into
 * the SSE frame bytes, and the same bytes are written to each stream. The wire is exactly what
 * tRPC's sseStreamProducer writes (so httpSubscriptionLink and the dashboard are unchanged).
 *
 * Only the normal case is served here; anything tRPC would refuse (bad input, bad credentials, a
 * non-admin asking `all`, the 9th stream) returns null and goes through tRPC, which answers it in
 * its own shape.
 */

const PATH = 'mj.onTaskUpdate';
const enc = new TextEncoder();
const frame = (text: string) => enc.encode(text);
/** tRPC's SSE options (src/trpc/init.ts): pings every 5 s, the client reconnects after 12 s idle. */
const CONNECTED = frame(`event: connected\ndata: ${JSON.stringify({ reconnectAfterInactivityMs: 12_000 })}\n\n\n`);
const PING = frame('event: ping\ndata: \n\n\n');
const RETURN = frame('event: return\ndata: \n\n\n');
const PING_MS = 5_000;
/** Frames queued for a stream that does not read: past it, it is closed and reconnects with its last id. */
const MAX_QUEUED = 4_096;

const SSE_HEADERS = {
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache, no-transform',
  'x-accel-buffering': 'no',
  connection: 'keep-alive',
};

type Audience = 'user' | 'admin';

/** Frame bytes per live event and audience: the event object is shared by every stream that gets it. */
const framesOf = { user: new WeakMap<object, Uint8Array>(), admin: new WeakMap<object, Uint8Array>() };

function trackedFrame(id: string, data: unknown): Uint8Array {
  return frame(`data: ${JSON.stringify(data)}\nid: ${id}\n\n\n`);
}

function errorFrame(
  code: 'UNAUTHORIZED' | 'FORBIDDEN' | 'INTERNAL_SERVER_ERROR',
  message: string,
  httpStatus: number,
): Uint8Array {
  const shape = { message, code: TRPC_ERROR_CODES_BY_KEY[code], data: { code, httpStatus, path: PATH } };
  return frame(`event: serialized-error\ndata: ${JSON.stringify(shape)}\n\n\n`);
}

/** One ping timer for every open stream, writing the same bytes. */
const open = new Set<ReadableStreamDefaultController<Uint8Array>>();
let pinger: ReturnType<typeof setInterval> | null = null;

function track(c: ReadableStreamDefaultController<Uint8Array>): void {
  open.add(c);
  if (!pinger) {
    pinger = setInterval(() => {
      for (const s of open) {
        try {
          s.enqueue(PING);
        } catch {
          open.delete(s);
        }
      }
    }, PING_MS);
    pinger.unref?.();
  }
}

function untrack(c: ReadableStreamDefaultController<Uint8Array>): void {
  open.delete(c);
  if (open.size === 0 && pinger) {
    clearInterval(pinger);
    pinger = null;
  }
}

/** The input as tRPC's fetch adapter hands it to the procedure (lastEventId from the header or query merged in). */
function inputOf(url: URL, headers: Headers): unknown {
  const raw = url.searchParams.get('input');
  let input: unknown = raw ? JSON.parse(raw) : undefined;
  const lastEventId =
    headers.get('last-event-id') ?? url.searchParams.get('lastEventId') ?? url.searchParams.get('Last-Event-Id');
  if (lastEventId) {
    if (input !== null && typeof input === 'object' && !Array.isArray(input)) input = { ...input, lastEventId };
    else input ??= { lastEventId };
  }
  return input;
}

/**
 * The live stream's response; 'full' when the caller holds every stream allowed (SPEC §10: the 9th
 * is an HTTP 429, not tRPC's 200 stream carrying the error); null when tRPC should answer.
 */
export async function liveSse(deps: AppDeps, request: Request, requestId: string): Promise<Response | 'full' | null> {
  const feed = deps.taskFeed;
  if (request.method !== 'GET') return null;
  const url = new URL(request.url);
  if (url.pathname !== `/trpc/${PATH}` || url.searchParams.has('batch') || url.searchParams.has('connectionParams'))
    return null;
  let parsed: ReturnType<typeof onTaskUpdateInputSchema.safeParse>;
  try {
    parsed = onTaskUpdateInputSchema.safeParse(inputOf(url, request.headers));
  } catch {
    return null;
  }
  if (!parsed.success) return null;
  const credentials = requestCredentials(request.headers);
  const user = await authenticateManagement(deps.store, credentials, ROLE.common).catch(() => null);
  const all = parsed.data?.all === true;
  if (!user || (all && user.role < ROLE.admin)) return null;
  let close: () => void;
  try {
    close = openSubscription(deps.taskStore, user.id);
  } catch {
    return 'full';
  }
  const policy = policyOf(deps);
  const audience: Audience = all ? 'admin' : 'user';
  const itemOf = (row: TaskRow) => (all ? typedAdminTaskItem(row, policy) : typedTaskItem(row, policy));
  const replay = liveReplayBounds(deps.taskStore, user.id, itemOf);
  const stop = new AbortController();
  let ctrl: ReadableStreamDefaultController<Uint8Array> | null = null;
  let ended = false;
  let unwatch = () => {};

  const finish = (last: Uint8Array | null) => {
    if (ended) return;
    ended = true;
    unwatch();
    close();
    stop.abort();
    if (!ctrl) return;
    untrack(ctrl);
    try {
      if (last) ctrl.enqueue(last);
      ctrl.close();
    } catch {
      // Already cancelled by the client.
    }
  };
  const write = (bytes: Uint8Array) => {
    if (ended || !ctrl) return;
    // A reader this far behind is let go without `return`: it reconnects with its last event id.
    if ((ctrl.desiredSize ?? 0) < -MAX_QUEUED) return finish(null);
    try {
      ctrl.enqueue(bytes);
    } catch {
      finish(null); // Closed under us (the client went away before `cancel` ran).
    }
  };
  const onEvent = (e: TaskFeedEvent | TaskFeedReload) => {
    if (e.reload) {
      // Refused for its size: charged as a full answer, as in mj-live.ts.
      chargeAnswer(deps.taskStore, user.id, replay.bytes);
      return write(trackedFrame(e.eventId, { reload: true }));
    }
    const cache = framesOf[audience];
    let bytes = cache.get(e);
    if (!bytes) cache.set(e, (bytes = trackedFrame(e.eventId, itemOf(e.row))));
    write(bytes);
  };

  const body = new ReadableStream<Uint8Array>({
    start(c) {
      ctrl = c;
      c.enqueue(CONNECTED);
      track(c);
    },
    cancel() {
      finish(null);
    },
  });
  unwatch = sessionWatchOf(deps.store).watch(credentials, all ? ROLE.admin : ROLE.common, (err: AppError) => {
    const code = err.kind === 'FORBIDDEN' ? 'FORBIDDEN' : 'UNAUTHORIZED';
    finish(errorFrame(code, err.message, code === 'FORBIDDEN' ? 403 : 401));
  });
  request.signal.addEventListener('abort', () => finish(null), { once: true });
  feed.watch({ userId: all ? null : user.id }, parsed.data?.lastEventId ?? null, stop.signal, replay, {
    event: onEvent,
    error: (err) => {
      deps.logger.error('trpc procedure failed', { requestId, path: PATH, error: err });
      finish(errorFrame('INTERNAL_SERVER_ERROR', `internal error (request id ${requestId})`, 500));
    },
    end: () => finish(RETURN),
  });
  return new Response(body, { status: 200, headers: SSE_HEADERS });
}
