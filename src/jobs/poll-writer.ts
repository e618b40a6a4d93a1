import type { SyncOp, SyncOpResult, SyncStore } from '../domain/store/tasks.ts';
import type { ImageLinkPolicy } from '../domain/tasks.ts';
import type { LinkPolicySource } from '../domain/webhooks.ts';
import type { PollWriteReply, PollWriteRequest } from './poll-write-worker.ts';

const WORKER_URL = new URL('./poll-write-worker.ts', import.meta.url).href;

/**
 * The poller's batch writes on a thread of their own (bun:sqlite file databases, issue 15): the
 * main thread plans a batch, this thread's connection applies it with the same applySyncOps, so
 * the event loop serves requests and the next upstream answers while SQLite writes. Batches are
 * applied one after another in the order sent.
 */
export interface PollWriter {
  /** sync.apply on the write thread; the webhook payloads rendered with `links` (raw links when null). */
  apply(ops: readonly SyncOp[], now: number, links: ImageLinkPolicy | null): Promise<SyncOpResult[]>;
  /** False once the thread failed to start or died: callers write on their own connection again. */
  alive(): boolean;
  /** Waits for the batches sent, then closes the thread's connection. */
  stop(): Promise<void>;
}

/** An Error as the database threw it on the write thread (its SQLite code kept for isRowError and logs). */
class PollWriteError extends Error {
  constructor(message: string, readonly code: string | null) {
    super(message);
    this.name = 'PollWriteError';
  }
}

interface Pending {
  resolve: (r: SyncOpResult[]) => void;
  reject: (err: Error) => void;
}

/** Starts the write thread on the (already migrated) file at `path`. */
export function startPollWriter(path: string, opts: { onError?: (message: string) => void } = {}): PollWriter {
  const worker = new Worker(WORKER_URL) as unknown as Bun.Worker;
  worker.unref();
  const pending = new Map<number, Pending>();
  let seq = 0;
  let dead = false;
  let closed: (() => void) | null = null;
  const fail = (message: string) => {
    if (dead) return;
    dead = true;
    opts.onError?.(message);
    for (const p of pending.values()) p.reject(new PollWriteError(message, null));
    pending.clear();
    closed?.();
  };
  worker.addEventListener('message', (event) => {
    const reply = (event as MessageEvent<PollWriteReply | 'closed'>).data;
    if (reply === 'closed') {
      closed?.();
      return;
    }
    if ('ready' in reply) {
      if (!reply.ready) fail(`poll writer could not open the database: ${reply.error}`);
      return;
    }
    const p = pending.get(reply.seq);
    if (!p) return;
    pending.delete(reply.seq);
    if ('results' in reply) p.resolve(reply.results);
    else p.reject(new PollWriteError(reply.error, reply.code));
  });
  worker.addEventListener('error', (event) => fail(`poll writer thread failed: ${event.message}`));
  worker.addEventListener('close', () => fail('poll writer thread exited'));
  worker.postMessage({ path });
  return {
    apply(ops, now, links) {
      if (dead) return Promise.reject(new PollWriteError('poll writer is stopped', null));
      const request: PollWriteRequest = { seq: ++seq, ops: ops as SyncOp[], now, links };
      return new Promise<SyncOpResult[]>((resolve, reject) => {
        pending.set(request.seq, { resolve, reject });
        worker.postMessage(request);
      });
    },
    alive: () => !dead,
    async stop() {
      if (!dead) {
        // Messages are handled in order: 'close' runs after every batch sent before it.
        await new Promise<void>((resolve) => {
          closed = resolve;
          worker.postMessage('close');
        });
        dead = true;
      }
      worker.terminate();
    },
  };
}

/**
 * `sync` with its writes on `writer` while the thread lives (reads stay on `sync`): the poller's
 * SyncStore. Should the thread die, writes go through `sync` itself again.
 */
export function offThreadSync(sync: SyncStore, writer: PollWriter, links: LinkPolicySource | undefined): SyncStore {
  return {
    unfinishedChannels: () => sync.unfinishedChannels(),
    unfinishedPage: (channelId, afterId, limit) => sync.unfinishedPage(channelId, afterId, limit),
    apply: (ops, now, hook) => (writer.alive() ? writer.apply(ops, now, links?.() ?? null) : sync.apply(ops, now, hook)),
  };
}
