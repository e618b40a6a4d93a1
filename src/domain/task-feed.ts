import type { TaskRow } from '../contract/rows.ts';
import type { Clock } from '../lib/clock.ts';
import { randomAlphanumeric } from '../lib/ids.ts';
import { TaskFanout, type TaskFeedSink } from './task-feed-fanout.ts';
import { FingerprintMemory } from './task-feed-memory.ts';

import type {
  Fingerprint,
  MaybePromise,
  ReplayBounds,
  TaskFeedEvent,
  TaskFeedReads,
  TaskFeedReload,
  WrittenTask,
} from './task-feed-types.ts';

export type { TaskFeedSink } from './task-feed-fanout.ts';
export type { ReplayBounds, TaskFeedEvent, TaskFeedReads, TaskFeedReload, WrittenTask } from './task-feed-types.ts';

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
   * Tasks the caller has just written, each one a change (its write won and moved updated_time),
   * with their owners: a feed that can records them without reading them back (SQLite's). On
   * PostgreSQL the LISTEN echo of the write is the one path, so this publishes nothing there.
   */
  publishWritten(tasks: readonly WrittenTask[]): void;
  /**
   * Changes of one user's tasks (userId) or of all tasks (null), after the event `fromEventId`
   * when given (replayed first), then live until `signal` aborts.
   */
  // The replay bounds are required (null = unbounded), and so is `watch`: a wrapper that forwards
  // less must not compile. Two wrappers did, silently lifting the SPEC's replay limits.
  subscribe(
    scope: { userId: number | null },
    fromEventId: string | null,
    signal: AbortSignal,
    replay: ReplayBounds | null,
  ): AsyncGenerator<TaskFeedEvent | TaskFeedReload>;
  /**
   * What `subscribe` yields, pushed to `sink` instead: each live change is read once for all
   * watchers and handed to each as the same object (so it is serialised once). `sink.end()` once
   * `signal` aborts.
   */
  watch(
    scope: { userId: number | null },
    fromEventId: string | null,
    signal: AbortSignal,
    replay: ReplayBounds | null,
    sink: TaskFeedSink,
  ): void;
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
  /** Most changes one replay sends (SPEC §10: 1,000); past it the subscriber is told to reload. */
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

  constructor(
    private readonly reads: TaskFeedReads,
    private readonly clock: Clock,
    private readonly opts: InProcessFeedOptions,
  ) {
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
      const settled = rows.then(
        (r) => r,
        () => null,
      );
      this.reading++;
      this.applying = this.applying
        .then(() => settled)
        .then((r) => {
          if (r) this.record(r, time);
        })
        .catch(() => {})
        .finally(() => this.reading--);
      return;
    }
    this.record(rows, time);
  }

  /**
   * No fingerprint read: each task is a change. Its remembered fingerprint is forgotten, so the next
   * `publish` of it is compared with nothing stale. After the publishes still being read, if any.
   */
  publishWritten(tasks: readonly WrittenTask[]): void {
    if (tasks.length === 0) return;
    const time = this.clock.now();
    const apply = () => {
      for (const t of tasks) {
        this.seen.forget(t.id);
        this.emit(t.id, t.userId, time);
      }
      this.trim();
    };
    if (this.reading === 0) apply();
    else this.applying = this.applying.then(apply);
  }

  /** Asynchronous fingerprint reads started and not applied yet. */
  private reading = 0;

  private record(rows: readonly Fingerprint[], time: number): void {
    for (const r of rows) if (this.seen.changed(r.id, r.fp)) this.emit(r.id, r.user_id, time);
    this.trim();
  }

  private emit(taskId: number, userId: number, time: number): void {
    const change: Change = { seq: ++this.seq, taskId, userId, time };
    this.buffer.push(change);
    for (const listener of this.listeners) listener(change);
  }

  private trim(): void {
    if (this.buffer.length > this.bufferSize * 1.25) this.buffer.splice(0, this.buffer.length - this.bufferSize);
  }

  private readonly fanout = new TaskFanout((id) => this.row(id));
  private readonly fanListener = (c: Change) =>
    this.fanout.onChange({ seq: c.seq, taskId: c.taskId, userId: c.userId, eventId: this.idOf(c.seq, c.time) });

  watch(
    scope: { userId: number | null },
    fromEventId: string | null,
    signal: AbortSignal,
    bounds: ReplayBounds | null,
    sink: TaskFeedSink,
  ): void {
    if (signal.aborted) {
      sink.end();
      return;
    }
    const last = this.seq;
    const from = parseEventId(fromEventId);
    // Listening before the replay is read: what is published meanwhile is held, then sent after it.
    const watcher = this.fanout.add(scope.userId, sink, last, from !== null);
    this.listeners.add(this.fanListener);
    let done = false;
    const stop = () => {
      if (done) return;
      done = true;
      watcher.remove();
      if (this.fanout.size === 0) this.listeners.delete(this.fanListener);
      signal.removeEventListener('abort', onAbort);
    };
    const onAbort = () => {
      stop();
      sink.end();
    };
    signal.addEventListener('abort', onAbort);
    if (!from) return;
    const read = () => this.replay(scope, from, last, bounds);
    (bounds?.guard ? bounds.guard(read) : read()).then(
      (replay) => {
        if (done) return;
        if (replay === 'reload') sink.event({ eventId: this.idOf(last, this.clock.now()), reload: true });
        else for (const e of replay) sink.event(e);
        watcher.release();
      },
      (err: unknown) => {
        if (done) return;
        stop();
        sink.error(err);
      },
    );
  }

  async *subscribe(
    scope: { userId: number | null },
    fromEventId: string | null,
    signal: AbortSignal,
    bounds: ReplayBounds | null,
  ): AsyncGenerator<TaskFeedEvent | TaskFeedReload> {
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
      const last = this.seq;
      const from = parseEventId(fromEventId);
      if (from) {
        const read = () => this.replay(scope, from, last, bounds);
        const replay = bounds?.guard ? await bounds.guard(read) : await read();
        if (replay === 'reload') yield { eventId: this.idOf(last, this.clock.now()), reload: true };
        else yield* replay;
      }
      yield* this.live(pending, last, signal, (w) => (wake = w));
    } finally {
      this.listeners.delete(listener);
      signal.removeEventListener('abort', onAbort);
    }
  }

  /**
   * What a subscriber missed since `from`, read whole before any of it is sent, or 'reload' when it
   * is more than the bounds allow (SPEC §10): the rows are read, the items are never rendered.
   */
  private async replay(
    scope: { userId: number | null },
    from: { boot: string; seq: number; time: number },
    last: number,
    bounds: ReplayBounds | null,
  ): Promise<TaskFeedEvent[] | 'reload'> {
    const matches = (c: Change) => scope.userId === null || c.userId === scope.userId;
    const oldest = this.buffer[0]?.seq ?? this.seq + 1;
    let out: TaskFeedEvent[];
    if (from.boot === this.boot && from.seq >= oldest - 1 && from.seq <= this.seq) {
      // Copied before any await: publish trims the buffer from the front meanwhile. One change per
      // task (its latest), in order of that change.
      const latest = new Map<number, Change>();
      for (const c of this.buffer) {
        if (c.seq <= from.seq || c.seq > last || !matches(c)) continue;
        latest.delete(c.taskId);
        latest.set(c.taskId, c);
      }
      if (latest.size > this.replayLimit) return 'reload';
      out = [];
      let atLeast = 0;
      for (const c of latest.values()) {
        const row = await this.row(c.taskId);
        if (!row) continue;
        out.push({ eventId: this.idOf(c.seq, c.time), row });
        // Row by row: a replay past the budget stops being read as soon as that is certain.
        atLeast += bounds ? bounds.atLeast([row]) : 0;
        if (bounds && atLeast > bounds.bytes) return 'reload';
        // Up to 1,000 reads: others get a turn of the event loop between every 50.
        if (out.length % 50 === 0) await new Promise<void>((resolve) => setImmediate(resolve));
      }
    } else {
      // Older than the buffer or from a previous process: the rows changed since, from the DB.
      const since = from.time - REPLAY_SLACK_MS;
      const windowStart = since - this.opts.changeWindowMs;
      if (this.reads.replaySize) {
        const size = await this.reads.replaySize(
          scope.userId,
          windowStart,
          since,
          this.replayLimit + 1,
          bounds?.itemCap ?? 0,
          bounds?.bytes ?? Infinity,
        );
        if (size.count > this.replayLimit || (bounds && size.bytes > bounds.bytes)) return 'reload';
      }
      const rows = await this.reads.replay(scope.userId, windowStart, since, this.replayLimit + 1);
      if (rows.length > this.replayLimit) return 'reload';
      const head = this.idOf(last, this.clock.now());
      out = rows.reverse().map((row) => ({ eventId: head, row }));
    }
    if (bounds) {
      if (bounds.atLeast(out.map((e) => e.row)) > bounds.bytes) return 'reload';
      let bytes = 0;
      for (const e of out) {
        bytes += bounds.measure(e.row);
        if (bytes > bounds.bytes) return 'reload';
      }
    }
    return out;
  }

  private async *live(
    pending: Map<number, Change>,
    from: number,
    signal: AbortSignal,
    setWake: (w: (() => void) | null) => void,
  ): AsyncGenerator<TaskFeedEvent> {
    let last = from;
    while (!signal.aborted) {
      const next = pending.values().next();
      if (next.done) {
        await new Promise<void>((resolve) => setWake(resolve));
        setWake(null);
        continue;
      }
      const c = next.value;
      pending.delete(c.taskId);
      if (c.seq <= last) continue;
      last = c.seq;
      const row = await this.row(c.taskId);
      if (row) yield { eventId: this.idOf(c.seq, c.time), row };
    }
  }

  /** Subscribers now listening (for tests and metrics). */
  get listenerCount(): number {
    return this.listeners.size - (this.listeners.has(this.fanListener) ? 1 : 0) + this.fanout.size;
  }

  private idOf(seq: number, time: number): string {
    return `${this.boot}-${seq}-${time}`;
  }

  private row(id: number): MaybePromise<TaskRow | null> {
    return this.reads.row(id);
  }
}

/** How long after its submit a task can still change (see InProcessFeedOptions.changeWindowMs). */
export function changeWindowOf(c: {
  taskTimeoutMs: number;
  upstreamTimeoutMs: number;
  pollIntervalMs: number;
}): number {
  return c.taskTimeoutMs + c.upstreamTimeoutMs + 2 * c.pollIntervalMs + REPLAY_SLACK_MS;
}
