import type { TaskRow } from '../db/schema/index.ts';
import type { Clock } from '../lib/clock.ts';
import { randomAlphanumeric } from '../lib/ids.ts';
import { FingerprintMemory } from './task-feed-memory.ts';

/**
 * Live task changes (SPEC §14): the writers (relay, poller) publish the ids of the tasks they
 * changed once their transaction has committed; subscribers (the tRPC subscription
 * `mj.onTaskUpdate`) receive the current rows, in order, each with an event id that a
 * reconnecting client hands back to miss nothing.
 *
 * This is the interface the domain needs; `InProcessTaskFeed` serves one process. On PostgreSQL
 * the task store `NOTIFY`s the ids of every write inside its transaction and each replica feeds
 * its `LISTEN`ed ids into its own InProcessTaskFeed, so a page on any replica sees every write.
 */
export interface TaskFeed {
  /** Tasks whose rows changed (ids may repeat or be unchanged: the feed drops what did not move). */
  publish(taskIds: readonly number[]): void;
  /**
   * Changes of one user's tasks (userId) or of all tasks (null), after the event `fromEventId`
   * when given (replayed first), then live until `signal` aborts.
   */
  subscribe(scope: { userId: number | null }, fromEventId: string | null, signal: AbortSignal): AsyncGenerator<TaskFeedEvent>;
}

type MaybePromise<T> = T | Promise<T>;
type Fingerprint = { id: number; user_id: number; fp: string };

/**
 * The reads InProcessTaskFeed makes: synchronous on SQLite (src/db/sqlite/feed-reads.ts: publish
 * reads the fingerprints right after the writer's commit), asynchronous on PostgreSQL
 * (src/db/pg/task-reads.ts), where publishes are then applied one after another, in call order.
 */
export interface TaskFeedReads {
  /** Fingerprints of these tasks (ids that exist). */
  fingerprints(taskIds: readonly number[]): MaybePromise<Fingerprint[]>;
  row(id: number): MaybePromise<TaskRow | null>;
  /** Tasks submitted at or after `windowStart` and updated at or after `since`, newest change first, at most `limit`. */
  replay(userId: number | null, windowStart: number, since: number, limit: number): MaybePromise<TaskRow[]>;
}

export interface TaskFeedEvent {
  eventId: string;
  row: TaskRow;
}

interface Change {
  seq: number;
  taskId: number;
  userId: number;
  time: number;
}

export interface InProcessFeedOptions {
  /** Recent changes kept for reconnects; older event ids are answered from the database. */
  bufferSize?: number;
  /**
   * How far back (by submit time) a task can still change: TASK_TIMEOUT_MS plus the upstream
   * timeout and a poll interval. The database replay looks only at tasks submitted within it, so
   * it reads the submit_time index instead of the whole table.
   */
  changeWindowMs: number;
  /** Most rows one database replay returns (the oldest changes first). */
  replayLimit?: number;
  /** Tasks whose last fingerprint is remembered (the ids of the latest changes); default 20,000. */
  fingerprintMemory?: number;
}

/** Writers take `now` a little before they commit; a replay looks this far behind an event's time. */
const REPLAY_SLACK_MS = 60_000;
const FINGERPRINT_MEMORY = 20_000;

/** Event id `<boot>-<seq>-<time>`: the boot tells ours from a previous process's ids. */
function parseEventId(id: string | null): { boot: string; seq: number; time: number } | null {
  const m = id ? /^([A-Za-z0-9]+)-(\d+)-(\d+)$/.exec(id) : null;
  if (!m || m[1] === undefined) return null;
  return { boot: m[1], seq: Number(m[2]), time: Number(m[3]) };
}

export class InProcessTaskFeed implements TaskFeed {
  private readonly boot = randomAlphanumeric(8);
  private seq = 0;
  private readonly buffer: Change[] = [];
  private readonly listeners = new Set<(c: Change) => void>();
  /** Last published fingerprint per task: the poller publishes whole batches, changed or not. */
  private readonly seen: FingerprintMemory;
  private readonly bufferSize: number;
  private readonly replayLimit: number;

  constructor(private readonly reads: TaskFeedReads, private readonly clock: Clock, private readonly opts: InProcessFeedOptions) {
    this.bufferSize = Math.max(16, opts.bufferSize ?? 5000);
    this.replayLimit = Math.max(1, opts.replayLimit ?? 1000);
    this.seen = new FingerprintMemory(Math.max(1, opts.fingerprintMemory ?? FINGERPRINT_MEMORY));
  }

  /** Asynchronous reads: the publishes not applied yet, in call order. */
  private applying: Promise<void> = Promise.resolve();

  publish(taskIds: readonly number[]): void {
    if (taskIds.length === 0) return;
    const time = this.clock.now();
    let rows: MaybePromise<Fingerprint[]>;
    try {
      rows = this.reads.fingerprints(taskIds);
    } catch {
      return; // A read that cannot start (the database away) drops this publish only.
    }
    if (rows instanceof Promise) {
      // Observed now, not once the earlier publishes have applied: a read failing meanwhile (the
      // database away) would otherwise be an unhandled rejection, which ends the process. A failed
      // read drops that publish only; later ones still apply, in call order.
      const settled = rows.then((r) => r, () => null);
      this.applying = this.applying.then(() => settled).then((r) => {
        if (r) this.record(r, time);
      }).catch(() => {});
      return;
    }
    this.record(rows, time);
  }

  private record(rows: readonly Fingerprint[], time: number): void {
    for (const r of rows) {
      if (!this.seen.changed(r.id, r.fp)) continue;
      const change: Change = { seq: ++this.seq, taskId: r.id, userId: r.user_id, time };
      this.buffer.push(change);
      for (const listener of this.listeners) listener(change);
    }
    if (this.buffer.length > this.bufferSize * 1.25) this.buffer.splice(0, this.buffer.length - this.bufferSize);
  }

  async *subscribe(scope: { userId: number | null }, fromEventId: string | null, signal: AbortSignal): AsyncGenerator<TaskFeedEvent> {
    const matches = (c: Change) => scope.userId === null || c.userId === scope.userId;
    // Latest change per task, in seq order: a slow reader gets each task's newest state once.
    const pending = new Map<number, Change>();
    let wake: (() => void) | null = null;
    const listener = (c: Change) => {
      if (!matches(c)) return;
      pending.delete(c.taskId);
      pending.set(c.taskId, c);
      wake?.();
    };
    const onAbort = () => wake?.();
    // Listen before reading the replay, so nothing published in between is lost.
    this.listeners.add(listener);
    signal.addEventListener('abort', onAbort);
    try {
      let last = this.seq;
      const from = parseEventId(fromEventId);
      if (from) {
        const oldest = this.buffer[0]?.seq ?? this.seq + 1;
        if (from.boot === this.boot && from.seq >= oldest - 1 && from.seq <= this.seq) {
          // Copied before the first yield: publish trims the buffer from the front while this
          // generator is suspended, which would shift entries past a live index.
          const missed = this.buffer.filter((c) => c.seq > from.seq && c.seq <= last && matches(c));
          for (const c of missed) {
            const row = await this.row(c.taskId);
            if (row) yield { eventId: this.idOf(c.seq, c.time), row };
          }
        } else {
          // Older than the buffer or from a previous process: the rows changed since, from the DB.
          const since = from.time - REPLAY_SLACK_MS;
          const windowStart = since - this.opts.changeWindowMs;
          const rows = await this.reads.replay(scope.userId, windowStart, since, this.replayLimit);
          const head = this.idOf(last, this.clock.now());
          // The newest changes when there are more than the limit (a task's latest state is what a
          // page needs), sent oldest first.
          for (const row of rows.reverse()) yield { eventId: head, row };
        }
      }
      while (!signal.aborted) {
        const next = pending.values().next();
        if (next.done) {
          await new Promise<void>((resolve) => (wake = resolve));
          wake = null;
          continue;
        }
        const c = next.value;
        pending.delete(c.taskId);
        if (c.seq <= last) continue;
        last = c.seq;
        const row = await this.row(c.taskId);
        if (row) yield { eventId: this.idOf(c.seq, c.time), row };
      }
    } finally {
      this.listeners.delete(listener);
      signal.removeEventListener('abort', onAbort);
    }
  }

  /** Subscribers now listening (for tests and metrics). */
  get listenerCount(): number {
    return this.listeners.size;
  }

  private idOf(seq: number, time: number): string {
    return `${this.boot}-${seq}-${time}`;
  }

  private row(id: number): MaybePromise<TaskRow | null> {
    return this.reads.row(id);
  }
}

/** A feed that drops everything: for callers (tools, some tests) that run without live updates. */
export const noTaskFeed: TaskFeed = {
  publish() {},
  async *subscribe() {},
};

/** How long after its submit a task can still change (see InProcessFeedOptions.changeWindowMs). */
export function changeWindowOf(c: { taskTimeoutMs: number; upstreamTimeoutMs: number; pollIntervalMs: number }): number {
  return c.taskTimeoutMs + c.upstreamTimeoutMs + 2 * c.pollIntervalMs + REPLAY_SLACK_MS;
}
