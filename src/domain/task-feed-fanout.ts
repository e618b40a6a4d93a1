import type { TaskRow } from '../db/schema/index.ts';
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
    const read = Promise.resolve(row).then((r) => r, () => null);
    this.chain = this.chain.then(() => read).then((r) => {
      this.inFlight--;
      this.deliver(c, r);
    });
  }

  private deliver(c: FanoutChange, row: TaskRow | null): void {
    if (!row) return;
    const event: TaskFeedEvent = { eventId: c.eventId, row };
    const own = this.byUser.get(c.userId);
    if (own) for (const w of own) push(w, c.seq, event);
    for (const w of this.all) push(w, c.seq, event);
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
  w.sink.event(e);
}
