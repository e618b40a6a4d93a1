import type { TaskRow } from '../contract/rows.ts';
import type { TaskFeedEvent, TaskFeedReload } from './task-feed.ts';

/**
 * What a watcher (one live stream, src/http/live-sse.ts) is handed. A live change is ONE
 * TaskFeedEvent object given to every watcher allowed to see it, so a caller can serialise it once
 * (keyed by the object) and write the same bytes to each stream.
 */
export interface TaskFeedSink {
  event(e: TaskFeedEvent | TaskFeedReload): void;
  /** The replay failed (the database away): the watcher is gone, nothing more comes. */
  error(err: unknown): void;
  /** The signal aborted (the client left, or the server shuts down): nothing more comes. */
  end(): void;
}

export interface FanoutChange {
  seq: number;
  taskId: number;
  userId: number;
  eventId: string;
}

type MaybePromise<T> = T | Promise<T>;

/** Stream writes between two turns of the event loop (~13 µs each in Bun): a submit step waits ~0.2 ms at most. */
const WRITES_PER_TURN = 16;

interface Watcher {
  sink: TaskFeedSink;
  /** Changes up to this seq are the replay's (or were before the watch began). */
  last: number;
  /** While the replay is read: the live changes since, latest per task, sent after it. */
  held: Map<number, TaskFeedEvent> | null;
}

/**
 * The live side of InProcessTaskFeed for watchers: every change that some watcher may see is read
 * ONCE (however many watch it), in publish order, and the same event object is handed to the
 * watchers of its user and to the `all` watchers. A change nobody may see is not read at all.
 */
export class TaskFanout {
  private readonly byUser = new Map<number, Set<Watcher>>();
  private readonly all = new Set<Watcher>();
  private count = 0;
  /** Asynchronous reads (PostgreSQL) in flight: later changes wait behind them to keep the order. */
  private inFlight = 0;
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly readRow: (id: number) => MaybePromise<TaskRow | null>) {}

  get size(): number {
    return this.count;
  }

  /** Changes recorded since the last flush: fanned out on the next turn, after the writer has answered. */
  private pending: FanoutChange[] = [];
  private scheduled = false;

  /**
   * Called by the feed for each recorded change (only while size > 0). The fan-out runs on the next
   * turn of the event loop: a submit's answer does not wait for a thousand streams to be written.
   */
  onChange(c: FanoutChange): void {
    if (!this.all.size && !this.byUser.has(c.userId)) return;
    this.pending.push(c);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    const changes = this.pending;
    this.pending = [];
    for (const c of changes) this.read(c);
  }

  private read(c: FanoutChange): void {
    if (!this.all.size && !this.byUser.has(c.userId)) return;
    let row: MaybePromise<TaskRow | null>;
    try {
      row = this.readRow(c.taskId);
    } catch {
      return; // The database away: this change is not sent live (a reconnect's replay has it).
    }
    if (!(row instanceof Promise) && this.inFlight === 0) {
      this.deliver(c, row);
      return;
    }
    this.inFlight++;
    const read = Promise.resolve(row).then(
      (r) => r,
      () => null,
    );
    this.chain = this.chain
      .then(() => read)
      .then((r) => {
        this.inFlight--;
        this.deliver(c, r);
      })
      .catch(() => {}); // Never a rejected chain: the later changes still go out.
  }

  /** Events being written, in order; each with the watchers it goes to and how far it got. */
  private writes: { seq: number; event: TaskFeedEvent; to: Watcher[]; next: number }[] = [];
  private draining = false;

  private deliver(c: FanoutChange, row: TaskRow | null): void {
    if (!row) return;
    const event: TaskFeedEvent = { eventId: c.eventId, row };
    const own = this.byUser.get(c.userId);
    const to = own ? [...own, ...this.all] : [...this.all];
    if (to.length === 0) return;
    this.writes.push({ seq: c.seq, event, to, next: 0 });
    if (!this.draining) this.drain();
  }

  /**
   * Writes at most WRITES_PER_TURN events to streams, then lets the event loop run (a submit's
   * next step waits for one slice, not for a thousand streams) and goes on.
   */
  private drain(): void {
    this.draining = true;
    let budget = WRITES_PER_TURN;
    while (budget > 0) {
      const w = this.writes[0];
      if (!w) {
        this.draining = false;
        return;
      }
      const end = Math.min(w.to.length, w.next + budget);
      for (let i = w.next; i < end; i++) push(w.to[i]!, w.seq, w.event);
      budget -= end - w.next;
      w.next = end;
      if (w.next === w.to.length) this.writes.shift();
    }
    setImmediate(() => this.drain());
  }

  /**
   * Adds a watcher of `userId` (null: every user). Its live changes after `last` are held until
   * `release` when `holding` (a replay is being read), then sent as they come.
   */
  add(userId: number | null, sink: TaskFeedSink, last: number, holding: boolean): { release(): void; remove(): void } {
    const w: Watcher = { sink, last, held: holding ? new Map() : null };
    let set = userId === null ? this.all : this.byUser.get(userId);
    if (!set) this.byUser.set(userId as number, (set = new Set()));
    set.add(w);
    this.count++;
    const own = set;
    let removed = false;
    return {
      release: () => {
        const held = w.held;
        w.held = null;
        if (held) for (const e of held.values()) sink.event(e);
      },
      remove: () => {
        if (removed) return;
        removed = true;
        own.delete(w);
        this.count--;
        if (userId !== null && own.size === 0 && this.byUser.get(userId) === own) this.byUser.delete(userId);
      },
    };
  }
}

function push(w: Watcher, seq: number, e: TaskFeedEvent): void {
  if (seq <= w.last) return;
  if (w.held) {
    w.held.delete(e.row.id);
    w.held.set(e.row.id, e);
    return;
  }
  try {
    w.sink.event(e);
  } catch {
    // One watcher's failure (a stream already gone) must not stop the fan-out to the others.
  }
}
