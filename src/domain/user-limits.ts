import { once } from '../lib/once.ts';
import { AppError } from './errors.ts';

/**
 * Per-user gates of SPEC §10 ("one user cannot slow the others"): how many listings one user has
 * in flight, and how many answer bytes per second they draw. The numbers are AnswerLimits'
 * (answer-limits.ts), read at each use so tests may lower them on a real server.
 */

export const TOO_MANY_REQUESTS = 'too_many_requests';

interface PlaceLimits {
  listingsPerUser: number;
  listingWaitMs: number;
}

interface RateLimits {
  answerBytesPerSecond: number;
  answerBurstBytes: number;
  /** What one answer may carry uncharged. */
  answerFreeBytes: number;
  listingWaitMs: number;
}

/**
 * A counting semaphore per user: at most `listingsPerUser` holders; more wait up to
 * `listingWaitMs` in arrival order, then get 429 `too_many_requests`. An entry lives only while
 * its user has a listing in flight or waiting, so memory follows the current load.
 */
export class UserSemaphore {
  private readonly users = new Map<number, { held: number; waiting: Array<() => void> }>();

  constructor(private readonly limits: PlaceLimits) {}

  /** Resolves with the release of a place (call it once, in `finally`), or throws RATE_LIMITED. */
  async acquire(userId: number): Promise<() => void> {
    let u = this.users.get(userId);
    if (!u) this.users.set(userId, (u = { held: 0, waiting: [] }));
    if (u.held < this.limits.listingsPerUser) {
      u.held += 1;
    } else {
      const entry = u;
      await new Promise<void>((resolve, reject) => {
        const grant = () => {
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          const i = entry.waiting.indexOf(grant);
          if (i >= 0) entry.waiting.splice(i, 1);
          this.forget(userId, entry);
          reject(new AppError('RATE_LIMITED', TOO_MANY_REQUESTS, TOO_MANY_REQUESTS));
        }, this.limits.listingWaitMs);
        entry.waiting.push(grant);
      });
    }
    const entry = u;
    return once(() => {
      const next = entry.waiting.shift();
      // The place passes straight to the next waiter: `held` stays.
      if (next) next();
      else {
        entry.held -= 1;
        this.forget(userId, entry);
      }
    });
  }

  /** Whether an acquire now would get a place at once. */
  hasRoom(userId: number): boolean {
    const u = this.users.get(userId);
    return !u || (u.held < this.limits.listingsPerUser && u.waiting.length === 0);
  }

  /** Users with an entry (holding or waiting): for tests. */
  get size(): number {
    return this.users.size;
  }

  private forget(userId: number, entry: { held: number; waiting: unknown[] }): void {
    if (entry.held === 0 && entry.waiting.length === 0 && this.users.get(userId) === entry) this.users.delete(userId);
  }
}

/**
 * Answer bytes per user as a debt repaid at `answerBytesPerSecond` (SPEC §10: one user cannot
 * slow the others). The 4 places bound what one user has in flight, not how often: a user who
 * asks for 8 MiB answers back to back would keep the main thread serialising for them (tens of
 * milliseconds each, which every other request then waits out). A user whose debt is past the
 * burst waits until it is back (up to `listingWaitMs`, else 429); a dashboard's pages
 * (kilobytes) never notice. An entry lives only while its debt does.
 */
export class UserByteRate {
  private readonly debts = new Map<number, { bytes: number; at: number }>();

  constructor(
    private readonly limits: RateLimits,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** The user's debt now, after what the time since the last charge repaid. */
  debt(userId: number): number {
    const d = this.debts.get(userId);
    if (!d) return 0;
    const t = this.now();
    const bytes = Math.max(0, d.bytes - ((t - d.at) / 1000) * this.limits.answerBytesPerSecond);
    if (bytes === 0) this.debts.delete(userId);
    else {
      d.bytes = bytes;
      d.at = t;
    }
    return bytes;
  }

  /** Charges one answer's bytes, less what an answer may carry uncharged. */
  charge(userId: number, bytes: number): void {
    const charged = bytes - this.limits.answerFreeBytes;
    if (charged <= 0) return;
    const owed = this.debt(userId) + charged;
    this.debts.set(userId, { bytes: owed, at: this.now() });
    // Users who stopped asking keep an entry until looked at: look at them all now and then.
    if (this.debts.size > 10_000) for (const id of [...this.debts.keys()]) this.debt(id);
  }

  /**
   * Resolves once the user's debt is within the burst. One that is further off than the wait
   * still waits it out before its 429 (as a request waiting for a listing place does): refusing at
   * once would let the user loop on cheap refusals, which cost the main thread as much.
   */
  async ready(userId: number): Promise<void> {
    const over = this.debt(userId) - this.limits.answerBurstBytes;
    if (over <= 0) return;
    const needMs = Math.ceil((over / this.limits.answerBytesPerSecond) * 1000);
    await new Promise((resolve) => setTimeout(resolve, Math.min(needMs, this.limits.listingWaitMs)));
    if (needMs > this.limits.listingWaitMs) throw new AppError('RATE_LIMITED', TOO_MANY_REQUESTS, TOO_MANY_REQUESTS);
  }

  /** Users with a debt (for tests). */
  get size(): number {
    return this.debts.size;
  }
}
