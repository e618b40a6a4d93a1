/**
 * The receiver a webhook URL reaches, `host:port` (the port spelled out, so `http://h` and
 * `http://h:80` are one receiver): deliveries are queued and limited per receiver, so one slow
 * receiver never holds another's (SPEC §15). An unparsable URL is its own receiver, `invalid`.
 */
export function receiverOf(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'invalid';
  }
  const port = parsed.port || (parsed.protocol === 'https:' ? '443' : parsed.protocol === 'http:' ? '80' : '');
  return `${parsed.hostname}:${port}`;
}

/**
 * Deliveries of one user in flight to one receiver at a time (each of a different task, so a
 * task's changes stay in order): a user's slow receiver holds at most this many of the worker's
 * slots, and a receiver many users share is not throttled for all of them by one.
 */
export const RECEIVER_IN_FLIGHT = 2;
/** Deliveries in flight for one user at a time, whatever their receivers: many slow receivers of one user hold at most this many slots. */
export const USER_IN_FLIGHT = 8;

/**
 * How a look at the outbox walks it (both dialects): the distinct (user, receiver) queues of
 * pending rows in key order, from a cursor that moves on look after look, at most QUEUES_PER_LOOK
 * queues and QUEUES_PER_USER_PER_LOOK of one user; of each queue, the due task heads among its
 * first QUEUE_SCAN pending rows. A look thus costs index seeks in proportion to these bounds,
 * never to a backlog's size.
 */
export const QUEUES_PER_LOOK = 256;
/** Rows a look takes of one queue and of one user: a few more than may be in flight, so a slot freed by a send is refilled from them at once. */
export const ROWS_PER_QUEUE = 4 * RECEIVER_IN_FLIGHT;
export const ROWS_PER_USER = 2 * USER_IN_FLIGHT;
export const QUEUES_PER_USER_PER_LOOK = 32;
export const QUEUE_SCAN = 32;

/** Where the next look starts: after this queue; null = from the first. */
export interface QueueCursor {
  userId: number;
  receiver: string;
}

/** One row of a walk: the queue visited, and one of its due rows (none when it had none due). */
export interface Walked<R> {
  walkUser: number;
  walkReceiver: string;
  row: R | null;
}

/**
 * The rows of a walk, at most `perUser` of one user and `limit` in all (oldest first), and where
 * the next look starts: at the first queue whose rows did not fit, or after the last queue walked
 * when the walk was cut by its bound, else (all walked, all fitted) from the start.
 */
export function takeWalk<R extends { id: number; userId: number }>(
  walked: readonly Walked<R>[],
  perUser: number,
  limit: number,
): { rows: R[]; next: QueueCursor | null } {
  const perUserCount = new Map<number, number>();
  const rows: R[] = [];
  let queues = 0;
  let prev: QueueCursor | null = null;
  let last: QueueCursor | null = null;
  let cut: QueueCursor | null | undefined;
  for (const w of walked) {
    if (last === null || last.userId !== w.walkUser || last.receiver !== w.walkReceiver) {
      prev = last;
      last = { userId: w.walkUser, receiver: w.walkReceiver };
      queues++;
    }
    if (!w.row) continue;
    const n = perUserCount.get(w.row.userId) ?? 0;
    if (n >= perUser) continue;
    if (rows.length >= limit) {
      // This queue's row did not fit: the next look starts at it (just after the queue before).
      cut = prev;
      break;
    }
    perUserCount.set(w.row.userId, n + 1);
    rows.push(w.row);
  }
  rows.sort((a, b) => a.id - b.id);
  if (cut !== undefined) return { rows, next: cut };
  return { rows, next: queues >= QUEUES_PER_LOOK ? last : null };
}
