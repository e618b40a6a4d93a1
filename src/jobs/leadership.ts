import type { LeaseStore } from '../domain/lease.ts';
import type { Clock } from '../lib/clock.ts';
import type { Logger } from '../lib/logger.ts';

export interface Leadership {
  /** Take or renew the lease now (one call at a time); true when this process leads afterwards. */
  refresh(): Promise<boolean>;
  /** Leading by the last answer, and that answer's lease has not run out locally. */
  isLeader(): boolean;
  /** Renews on a timer of its own, so a tick longer than the lease never loses it silently. */
  start(): void;
  /** Stops renewing and gives the lease up at once (a clean shutdown hands over without waiting for expiry). */
  stop(): Promise<void>;
}

export interface LeadershipOptions {
  store: LeaseStore;
  name: string;
  holder: string;
  ttlMs: number;
  /** Period of the renew timer; null when the caller already refreshes often enough. */
  renewEveryMs: number | null;
  clock: Clock;
  logger: Logger;
  /** Called when this process becomes the leader. */
  onGained?: () => void;
  /** Called when a leader finds out it no longer is (someone took an expired lease, or renewal kept failing). */
  onLost?: () => void;
}

export function createLeadership(o: LeadershipOptions): Leadership {
  let leader = false;
  let validUntil = 0;
  let timer: ReturnType<typeof setInterval> | null = null;
  let inFlight: Promise<boolean> | null = null;
  let stopped = false;

  function lose(reason: string): void {
    if (!leader) return;
    leader = false;
    o.logger.warn('poller lease lost', { lease: o.name, holder: o.holder, reason });
    o.onLost?.();
  }

  async function attempt(): Promise<boolean> {
    const now = o.clock.now();
    try {
      const held = await o.store.tryAcquire(o.name, o.holder, now, o.ttlMs);
      if (stopped) return false;
      if (held) {
        validUntil = now + o.ttlMs;
        if (!leader) {
          leader = true;
          o.logger.info('poller lease taken', { lease: o.name, holder: o.holder, ttlMs: o.ttlMs });
          o.onGained?.();
        }
      } else {
        lose('held by another process');
      }
    } catch (err) {
      o.logger.warn('poller lease renewal failed', { lease: o.name, error: err instanceof Error ? err : String(err) });
      if (o.clock.now() >= validUntil) lose('lease ran out while renewal failed');
    }
    return leader;
  }

  function refresh(): Promise<boolean> {
    if (stopped) return Promise.resolve(false);
    if (inFlight) return inFlight;
    const p = attempt().finally(() => {
      if (inFlight === p) inFlight = null;
    });
    inFlight = p;
    return p;
  }

  return {
    refresh,
    isLeader() {
      if (leader && o.clock.now() >= validUntil) lose('lease ran out before renewal');
      return leader;
    },
    start() {
      stopped = false;
      if (timer || o.renewEveryMs === null) return;
      timer = setInterval(() => void refresh(), Math.max(1, Math.floor(o.renewEveryMs)));
      timer.unref?.();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = null;
      stopped = true;
      if (inFlight) await inFlight;
      const wasLeader = leader;
      leader = false;
      try {
        // Guarded by holder in SQL, so it is safe even if this process never held the lease.
        await o.store.release(o.name, o.holder);
        if (wasLeader) o.logger.info('poller lease released', { lease: o.name, holder: o.holder });
      } catch (err) {
        o.logger.warn('poller lease release failed', {
          lease: o.name,
          error: err instanceof Error ? err : String(err),
        });
      }
    },
  };
}
