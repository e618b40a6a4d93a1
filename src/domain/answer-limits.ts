import type { TaskRow } from '../contract/rows.ts';
import { once } from '../lib/once.ts';
import { LISTING_ITEM_BUDGET_BYTES, MAX_JSON_CHARS, MAX_TEXT_CHARS, MAX_URL_CHARS } from './bounds.ts';
import { AppError } from './errors.ts';
import type { ReplayBounds } from './task-feed-types.ts';
import { TOO_MANY_REQUESTS, UserByteRate, UserSemaphore } from './user-limits.ts';

export { TOO_MANY_REQUESTS, UserByteRate, UserSemaphore };

/**
 * What one user may make the server carry (SPEC §10, "one user cannot slow the others"): the
 * task data of one answer, the listings one user has in flight, the live streams one user holds.
 * (The 1,000 changes a replay may send are the task feed's replayLimit.)
 * One set per server (keyed by its task store, which the tRPC, REST and relay edges share); the
 * values are the SPEC's, and tests may lower them on a real server's set.
 */
export interface AnswerLimits {
  /** Task data one answer may carry (a tRPC batch, a list-by-condition, a replay), in bytes of JSON. */
  answerBytes: number;
  /** Listing and list-by-condition requests one user may have in flight. */
  listingsPerUser: number;
  /** How long one more waits for a free place before it is refused. */
  listingWaitMs: number;
  /** Open live streams (mj.onTaskUpdate) per user. */
  subscriptionsPerUser: number;
  /**
   * Answer bytes one user may draw per second, averaged, after a burst of `answerBurstBytes`.
   * Every answer is serialised on the main thread, so this bounds the share of it one user takes.
   */
  answerBytesPerSecond: number;
  answerBurstBytes: number;
  /**
   * What one answer may carry uncharged: pages of ordinary tasks (a few KB an item) are never
   * metered, however fast a client pages through them (SPEC §12's listing throughput is one user's);
   * only heavy answers, whose serialisation holds the main thread, are.
   */
  answerFreeBytes: number;
}

export const ANSWER_BYTES = 8 * 1024 * 1024;

export const TOO_LARGE_MESSAGE = 'answer too large: narrow the request (fewer or smaller pages, fewer ids)';

interface ServerLimits {
  limits: AnswerLimits;
  listings: UserSemaphore;
  rate: UserByteRate;
  subscriptions: Map<number, number>;
}

const perServer = new WeakMap<object, ServerLimits>();

function serverLimits(server: object): ServerLimits {
  let s = perServer.get(server);
  if (!s) {
    const limits: AnswerLimits = {
      answerBytes: ANSWER_BYTES,
      listingsPerUser: 4,
      listingWaitMs: 5_000,
      subscriptionsPerUser: 8,
      answerBytesPerSecond: 2 * 1024 * 1024,
      answerBurstBytes: ANSWER_BYTES,
      answerFreeBytes: 256 * 1024,
    };
    s = { limits, listings: new UserSemaphore(limits), rate: new UserByteRate(limits), subscriptions: new Map() };
    perServer.set(server, s);
  }
  return s;
}

/** The limits of the server whose task store this is (mutable: tests lower them). */
export function limitsOf(server: object): AnswerLimits {
  return serverLimits(server).limits;
}

/**
 * The task data one answer may still take. Each part of an answer (a page of a batch, a slice
 * of list-by-condition ids, a replayed row) is measured as it is read and before it is rendered
 * into the answer; the part that would pass the limit is refused, and so is every later part.
 */
export class AnswerBudget {
  private left: number;
  exceeded = false;

  constructor(readonly limit: number = ANSWER_BYTES) {
    this.left = limit;
  }

  /**
   * Bytes asked of this budget so far, refused asks included: what the answer cost or would have
   * cost. A user's rate is charged this, so refusals are not a free way to keep the server busy.
   */
  asked = 0;

  /** The item lists of the parts built so far (see take). */
  private readonly built: unknown[][] = [];

  /** `items`, to be emptied should the answer be lost later. */
  keep<T>(items: T[]): T[] {
    if (!this.exceeded) this.built.push(items);
    return items;
  }

  /** Throws TOO_LARGE, counting the ask, when `bytes` more could not fit; takes nothing. */
  check(bytes: number): void {
    if (this.exceeded || bytes > this.left) {
      this.asked += bytes;
      this.take(bytes);
    }
  }

  private queue: Promise<unknown> = Promise.resolve();

  /**
   * Runs the parts of one answer one after another (the listings of a tRPC batch): once one has
   * passed the budget, the next is refused before it reads anything.
   */
  inTurn<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(() => {
      this.take(0);
      // A part refused for the user's rate refuses the rest at once: each would wait out its own
      // 5 s, one after another, past the connection's idle timeout.
      if (this.rateRefusal) throw this.rateRefusal;
      return work();
    });
    this.queue = run.catch((err: unknown) => {
      if (err instanceof AppError && err.kind === 'RATE_LIMITED') this.rateRefusal = err;
    });
    return run;
  }

  private rateRefusal: AppError | null = null;

  /** Takes `bytes` or throws TOO_LARGE (413); once refused, every later take is refused too. */
  take(bytes: number): void {
    this.asked += bytes;
    if (!this.exceeded && bytes <= this.left) {
      this.left -= bytes;
      return;
    }
    if (!this.exceeded) {
      this.exceeded = true;
      // The parts already built are answered by nothing (a lost batch is one 413): emptied now,
      // tRPC does not serialise megabytes that are thrown away after.
      for (const items of this.built) items.length = 0;
      this.built.length = 0;
    }
    throw new AppError('TOO_LARGE', TOO_LARGE_MESSAGE, 'payload_too_large');
  }

  /**
   * Takes the JSON size of each value (items already cut to their own bounds), less `reserved`
   * bytes already taken for them (see rowsBytesAtLeast).
   */
  takeAll(values: readonly unknown[], reserved = 0): void {
    let bytes = 0;
    for (const v of values) {
      bytes += jsonSize(v);
      // Stop measuring as soon as the answer is lost: a refused page costs at most this much work.
      if (bytes - reserved > this.left) break;
    }
    this.take(Math.max(0, bytes - reserved));
  }

  /**
   * Takes what these rows' items will take at least (from text lengths alone, before any item is
   * built) and returns it, so that a part that cannot fit is refused before it is rendered.
   */
  reserveRows(rows: readonly TaskRow[]): number {
    const bytes = rowsBytesAtLeast(rows);
    this.take(bytes);
    return bytes;
  }
}

const turnWaiters: Array<() => void> = [];
let turnScheduled = false;

function nextTurn(): void {
  turnScheduled = false;
  turnWaiters.shift()?.();
  if (turnWaiters.length > 0) {
    turnScheduled = true;
    setImmediate(nextTurn);
  }
}

/**
 * Waits for a turn of the event loop of its own: heavy slices of work (a listing read, a slice of
 * items, a replay check) run at most one per turn, in arrival order, so the requests that arrived
 * meanwhile (another user's, /healthz) are served between them and never wait behind a queue of
 * one user's slices run back to back.
 */
export function ownTurn(): Promise<void> {
  return new Promise<void>((resolve) => {
    turnWaiters.push(resolve);
    if (!turnScheduled) {
      turnScheduled = true;
      setImmediate(nextTurn);
    }
  });
}

/** Items built per turn of the event loop (a fat item takes up to ~1 ms to cut to its bounds). */
const ITEMS_PER_TURN = 25;

/**
 * The items of these rows, built within `budget`: the rows' least size is taken before any item
 * is built, then each slice's measured size, with a turn of the event loop between slices, so a
 * page of fat items never holds other requests for long.
 */
export async function buildWithin<T>(
  budget: AnswerBudget,
  rows: readonly TaskRow[],
  toItem: (row: TaskRow) => T,
): Promise<T[]> {
  budget.take(rowsBytesAtLeast(rows));
  const items: T[] = budget.keep([]);
  for (let i = 0; i < rows.length; i += ITEMS_PER_TURN) {
    if (i > 0) await ownTurn();
    const slice = rows.slice(i, i + ITEMS_PER_TURN);
    const built = slice.map(toItem);
    budget.takeAll(built, rowsBytesAtLeast(slice));
    items.push(...built);
  }
  return items;
}

/** The text of one kind that an item keeps: a text is cut to its bound, JSON or a URL past it dropped. */
const kept = (s: string, max: number, cut: boolean) => (s.length <= max ? s.length : cut ? max : 0);

/**
 * The fewest bytes the listing items of these rows take as JSON, from the lengths of their texts
 * (each UTF-16 unit is at least one byte; an item's texts are capped at LISTING_ITEM_BUDGET_BYTES):
 * no text is scanned, so a page or a replay past the budget is refused at the cost of its read.
 */
export function rowsBytesAtLeast(rows: readonly TaskRow[]): number {
  let total = 0;
  for (const r of rows) {
    const texts =
      kept(r.prompt, MAX_TEXT_CHARS, true) +
      kept(r.promptEn, MAX_TEXT_CHARS, true) +
      kept(r.description, MAX_TEXT_CHARS, true) +
      kept(r.state, MAX_TEXT_CHARS, true) +
      kept(r.failReason, MAX_TEXT_CHARS, true) +
      kept(r.imageUrl, MAX_URL_CHARS, false) +
      kept(r.videoUrl, MAX_URL_CHARS, false) +
      kept(r.videoUrls, MAX_JSON_CHARS, false) +
      kept(r.buttons, MAX_JSON_CHARS, false) +
      kept(r.properties, MAX_JSON_CHARS, false);
    total += Math.min(texts, LISTING_ITEM_BUDGET_BYTES);
  }
  return total;
}

/** Bytes of `v` as JSON (UTF-8). */
export function jsonSize(v: unknown): number {
  return Buffer.byteLength(JSON.stringify(v) ?? '');
}

/** The listing semaphore of a server (see limitsOf). */
export function listingSemaphoreOf(server: object): UserSemaphore {
  return serverLimits(server).listings;
}

/**
 * Runs `work` holding one of the user's listing places, once the user's answer rate allows it;
 * what `budget` was asked meanwhile (refusals included) is charged to that rate.
 */
export async function withListingPlace<T>(
  server: object,
  userId: number,
  work: () => Promise<T>,
  budget?: AnswerBudget,
): Promise<T> {
  const s = serverLimits(server);
  await s.rate.ready(userId);
  const handedOn = !s.listings.hasRoom(userId);
  const release = await s.listings.acquire(userId);
  const before = budget?.asked ?? 0;
  try {
    // A place handed on runs in the releaser's microtask chain: without a turn of the event loop
    // here, one user's queued listings (a batch of 16, many batches) would run back to back and
    // hold every other request, /healthz included, until the last of them. One hop breaks that
    // chain; a place that was free needs none (a client paging fast is not slowed for nothing).
    if (handedOn) await new Promise<void>((resolve) => setImmediate(resolve));
    return await work();
  } finally {
    release();
    if (budget) s.rate.charge(userId, budget.asked - before);
  }
}

/**
 * The bounds of a live stream's replay (SPEC §10): one answer's bytes, each row measured as
 * `itemOf` shows it, and the replay's reads run as a listing read, holding one of the user's places.
 */
export function liveReplayBounds(server: object, userId: number, itemOf: (row: TaskRow) => unknown): ReplayBounds {
  return {
    bytes: limitsOf(server).answerBytes,
    itemCap: LISTING_ITEM_BUDGET_BYTES,
    atLeast: rowsBytesAtLeast,
    guard: (work) => withListingPlace(server, userId, work),
    measure: (row) => jsonSize(itemOf(row)),
  };
}

/** Charges `bytes` of answer to the user's rate (a replay refused as too long, say). */
export function chargeAnswer(server: object, userId: number, bytes: number): void {
  serverLimits(server).rate.charge(userId, bytes);
}

/**
 * Opens one of the user's live streams; the 9th is refused with RATE_LIMITED. The returned close
 * may be called any number of times.
 */
export function openSubscription(server: object, userId: number): () => void {
  const s = serverLimits(server);
  const open = s.subscriptions.get(userId) ?? 0;
  if (open >= s.limits.subscriptionsPerUser) {
    throw new AppError('RATE_LIMITED', TOO_MANY_REQUESTS, TOO_MANY_REQUESTS);
  }
  s.subscriptions.set(userId, open + 1);
  return once(() => {
    const n = (s.subscriptions.get(userId) ?? 1) - 1;
    if (n <= 0) s.subscriptions.delete(userId);
    else s.subscriptions.set(userId, n);
  });
}

/** Open live streams per user of a server: for tests and metrics. */
export function openSubscriptionsOf(server: object, userId: number): number {
  return serverLimits(server).subscriptions.get(userId) ?? 0;
}
