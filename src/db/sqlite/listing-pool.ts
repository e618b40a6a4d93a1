import type { ListingExecutor, ListingView } from '../../contract/listing.ts';
import type { TaskRow } from '../../contract/rows.ts';
import type { Logger } from '../../lib/logger.ts';
import type { Page, PageQuery, TaskFilter } from '../../lib/paging.ts';
import type { ListingReply, ListingRequest, ListingWorkerInit, ListingWorkerReady } from './listing-executor.ts';

const WORKER_URL = new URL('./listing-worker.ts', import.meta.url).href;

export interface ListingPoolOptions {
  /** SQLite file the workers read (already migrated, in WAL mode). */
  path: string;
  size: number;
  logger: Logger;
  /** A listing taking longer than this fails and its worker is replaced (default 30 s). */
  timeoutMs?: number;
  /** Listings waiting for a worker beyond this are refused with `errors.busy()` (default 64 per worker). */
  maxQueue?: number;
  /** URL of the module whose `renderListing` the workers render REST envelopes with (the domain's). */
  renderModule: string;
  /** The domain's errors, which db/ may not import: the wiring (src/backend.ts) passes them in. */
  errors: ListingPoolErrors;
}

export interface ListingPoolErrors {
  /** Every worker busy and the waiting line full (the domain's 503). */
  busy(): Error;
  /** A worker's error that carried a kind (the domain's AppError), rebuilt on this thread. */
  rebuild(kind: string, message: string, code: string | undefined): Error;
}

interface Pending {
  request: ListingRequest;
  resolve: (result: Page<TaskRow> | string) => void;
  reject: (err: Error) => void;
  timer?: ReturnType<typeof setTimeout>;
}

interface Slot {
  worker: Bun.Worker;
  ready: boolean;
  /** Set once this worker is being replaced: its late messages and events are ignored. */
  gone: boolean;
  busy: Pending | null;
}

/**
 * Listings on N worker threads, each with its own read-only connection to the same WAL file, so
 * the main thread (HTTP, auth, writes) never waits behind a listing query. Requests queue in
 * arrival order and go to the first idle worker. A worker that dies or overruns the timeout fails
 * its one request with an internal error (never a hang) and is replaced.
 */
export class ListingPool implements ListingExecutor {
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];
  private readonly timeoutMs: number;
  private readonly maxQueue: number;
  private nextId = 1;
  private closed = false;
  /** How many workers were started in place of dead ones (tests wait on it). */
  restarts = 0;

  constructor(private readonly opts: ListingPoolOptions) {
    if (opts.size < 1) throw new Error('a listing pool needs at least one worker');
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.maxQueue = opts.maxQueue ?? 64 * opts.size;
    for (let i = 0; i < opts.size; i++) this.slots.push(this.spawn(i));
  }

  list(filter: TaskFilter, paging: PageQuery): Promise<Page<TaskRow>> {
    return this.run(filter, paging, undefined) as Promise<Page<TaskRow>>;
  }

  listJson(filter: TaskFilter, paging: PageQuery, view: ListingView): Promise<string> {
    return this.run(filter, paging, {
      admin: view.admin,
      policy: { forward: view.policy.forward, serverAddress: view.policy.serverAddress },
    }) as Promise<string>;
  }

  private run(filter: TaskFilter, paging: PageQuery, view: ListingView | undefined): Promise<Page<TaskRow> | string> {
    if (this.closed) return Promise.reject(new Error('listing pool is closed'));
    return new Promise((resolve, reject) => {
      const request: ListingRequest = {
        id: this.nextId++,
        filter: { ...filter },
        paging: { p: paging.p, page_size: paging.page_size },
      };
      if (view) request.view = view;
      this.queue.push({ request, resolve, reject });
      this.pump();
      // Every worker busy and the line full: refuse now rather than let waits grow without bound.
      if (this.queue.length > this.maxQueue) {
        this.queue.pop();
        reject(this.opts.errors.busy());
      }
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.queue.splice(0)) p.reject(new Error('listing pool is closed'));
    for (const slot of this.slots) this.retire(slot, 'listing pool is closed');
  }

  /** Workers that have opened their connection and can take a listing. */
  readyWorkers(): number {
    return this.slots.filter((s) => s.ready && !s.gone).length;
  }

  /** Test hook: ends worker `i` as a crash would (the pool must notice and replace it). */
  terminateWorkerForTest(i: number): void {
    this.slots[i]?.worker.terminate();
  }

  private spawn(index: number): Slot {
    // Bun's Worker (with ref/unref); the DOM lib in tsconfig would type it as the browser's.
    const worker = new Worker(WORKER_URL) as unknown as Bun.Worker;
    // The pool never keeps a process alive by itself; the server does while it listens.
    worker.unref();
    const slot: Slot = { worker, ready: false, gone: false, busy: null };
    worker.addEventListener('message', (event) =>
      this.onMessage(index, slot, (event as MessageEvent<ListingReply | ListingWorkerReady>).data),
    );
    worker.addEventListener('error', (event) => this.onDeath(index, slot, `listing worker failed: ${event.message}`));
    worker.addEventListener('close', () => this.onDeath(index, slot, 'listing worker exited'));
    const init: ListingWorkerInit = { path: this.opts.path, renderModule: this.opts.renderModule };
    worker.postMessage(init);
    return slot;
  }

  private pump(): void {
    for (let index = 0; index < this.slots.length && this.queue.length; index++) {
      const slot = this.slots[index]!;
      if (!slot.ready || slot.gone || slot.busy) continue;
      const p = this.queue.shift()!;
      slot.busy = p;
      // A stuck query fails its request and loses its worker (a fresh one takes its place).
      p.timer = setTimeout(
        () => this.onDeath(index, slot, `listing timed out after ${this.timeoutMs} ms`),
        this.timeoutMs,
      );
      slot.worker.postMessage(p.request);
    }
  }

  private onMessage(index: number, slot: Slot, msg: ListingReply | ListingWorkerReady): void {
    if (slot.gone) return;
    if ('ready' in msg) {
      if (!msg.ready) {
        const reason = `listing worker cannot open the database: ${msg.error}`;
        // With no worker able to serve, waiting listings fail now instead of waiting for one.
        if (!this.slots.some((s) => s !== slot && s.ready && !s.gone)) {
          for (const q of this.queue.splice(0)) q.reject(new Error(reason));
        }
        this.onDeath(index, slot, reason);
        return;
      }
      slot.ready = true;
      this.pump();
      return;
    }
    const p = slot.busy;
    if (!p || p.request.id !== msg.id) return;
    clearTimeout(p.timer);
    slot.busy = null;
    if (msg.ok) p.resolve(msg.result);
    else if (msg.error.kind) p.reject(this.opts.errors.rebuild(msg.error.kind, msg.error.message, msg.error.code));
    else p.reject(new Error(msg.error.message));
    this.pump();
  }

  private onDeath(index: number, slot: Slot, reason: string): void {
    if (slot.gone || this.closed) return;
    this.opts.logger.error('listing worker replaced', { reason });
    this.retire(slot, reason);
    this.restarts++;
    // A worker that cannot open the file would fail again at once: give the file a moment.
    const delay = slot.ready ? 0 : 1000;
    setTimeout(() => {
      if (this.closed) return;
      this.slots[index] = this.spawn(index);
    }, delay).unref();
  }

  /** Fails the slot's request (if any) and ends its thread. */
  private retire(slot: Slot, reason: string): void {
    if (slot.gone) return;
    slot.gone = true;
    if (slot.busy) {
      clearTimeout(slot.busy.timer);
      slot.busy.reject(new Error(reason));
      slot.busy = null;
    }
    slot.worker.terminate();
  }
}
