import { AppError, isDatabaseUnavailable } from '../domain/errors.ts';
import {
  type RetentionDeps,
  type RetentionReport,
  retentionDue,
  retentionEnvOf,
  runRetention,
} from '../domain/retention.ts';

/**
 * The daily retention pass on the poller leader (SPEC §17). The poller asks `maybeRun` on every
 * tick it leads and when it becomes the leader: the pass runs when the last one (its end time is
 * kept in the options table, so a new leader sees it) is more than a day old, so a day missed by
 * a leader that went away runs when the next one starts. One pass at a time; `stop` asks a running
 * pass to end after its batch and waits for it.
 */
export interface RetentionSchedule {
  maybeRun(): void;
  /** The running pass, if any (tests wait for it). */
  running(): Promise<RetentionReport | null> | null;
  stop(): Promise<void>;
}

/** After a failed look or pass, the next try waits this long. */
const RETRY_MS = 60_000;

export function createRetentionSchedule(deps: RetentionDeps): RetentionSchedule {
  let stopped = false;
  let current: Promise<RetentionReport | null> | null = null;
  /** No look at the database before this time (the last pass is known to be recent). */
  let quietUntil = 0;
  const env = retentionEnvOf(deps, () => stopped);

  async function pass(): Promise<RetentionReport | null> {
    const now = deps.clock.now();
    try {
      const { lastPass } = await env.retention.state();
      if (!retentionDue(lastPass, now)) {
        quietUntil = (lastPass ?? now) + 86_400_000;
        return null;
      }
      const report = await runRetention(env);
      quietUntil = report.started_at + 86_400_000;
      return report;
    } catch (err) {
      quietUntil = deps.clock.now() + RETRY_MS;
      if (err instanceof AppError && err.kind === 'CONFLICT')
        env.logger.info('retention pass deferred: another pass runs');
      else if (isDatabaseUnavailable(err)) env.logger.warn('retention pass failed: database unavailable');
      else env.logger.error('retention pass failed', { error: err instanceof Error ? err : String(err) });
      return null;
    }
  }

  return {
    maybeRun() {
      if (stopped || current || deps.clock.now() < quietUntil) return;
      const p = pass().finally(() => {
        if (current === p) current = null;
      });
      current = p;
    },
    running: () => current,
    async stop() {
      stopped = true;
      if (current) await current;
    },
  };
}
