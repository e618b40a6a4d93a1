import type { DB } from '../client.ts';
import type { CheckpointReply, CheckpointRequest } from './checkpoint-worker.ts';

const WORKER_URL = new URL('./checkpoint-worker.ts', import.meta.url).href;
/** SQLite's own default, restored when the checkpointer stops or its thread dies. */
const AUTO_CHECKPOINT_PAGES = 1000;

export interface WalCheckpointer {
  /** SQLite's counts from the last checkpoint the thread ran (null before the first). */
  last(): { busy: number; log: number; checkpointed: number } | null;
  stop(): Promise<void>;
}

/**
 * Moves WAL checkpoints off the main thread. SQLite runs an automatic checkpoint inside the
 * COMMIT that grows the WAL past 1,000 pages: copying the WAL into the database file and fsyncing
 * both, on the thread that committed. A poll tick writing 100,000 rows (a page each) triggers
 * hundreds of them; on a busy disk they were most of the tick's time and blocked every request
 * meanwhile. Here the main connection never checkpoints; a thread with its own connection runs a
 * PASSIVE checkpoint (it never blocks readers or writers) every `everyMs`. Should that thread die,
 * the main connection checkpoints by itself again, so the WAL never grows without bound.
 */
export function startWalCheckpointer(
  db: DB,
  path: string,
  opts: { everyMs?: number; onError?: (message: string) => void } = {},
): WalCheckpointer {
  const worker = new Worker(WORKER_URL) as unknown as Bun.Worker;
  worker.unref();
  let last: { busy: number; log: number; checkpointed: number } | null = null;
  let inFlight = false;
  let closed: (() => void) | null = null;
  let dead = false;
  const giveBack = (message: string) => {
    if (dead) return;
    dead = true;
    clearInterval(timer);
    db.$client.exec(`PRAGMA wal_autocheckpoint = ${AUTO_CHECKPOINT_PAGES};`);
    opts.onError?.(message);
  };
  worker.addEventListener('message', (event) => {
    const reply = (event as MessageEvent<CheckpointReply>).data;
    inFlight = false;
    if (reply === 'closed') closed?.();
    else if ('failed' in reply) opts.onError?.(`wal checkpoint failed: ${reply.failed}`);
    else last = reply;
  });
  worker.addEventListener('error', (event) => giveBack(`wal checkpoint thread failed: ${event.message}`));
  worker.postMessage({ path } satisfies CheckpointRequest);
  db.$client.exec('PRAGMA wal_autocheckpoint = 0;');
  const timer = setInterval(
    () => {
      if (inFlight || dead) return;
      inFlight = true;
      worker.postMessage('checkpoint' satisfies CheckpointRequest);
    },
    Math.max(10, opts.everyMs ?? 1000),
  );
  timer.unref();
  return {
    last: () => last,
    async stop() {
      clearInterval(timer);
      if (!dead) {
        dead = true;
        db.$client.exec(`PRAGMA wal_autocheckpoint = ${AUTO_CHECKPOINT_PAGES};`);
        await new Promise<void>((resolve) => {
          closed = resolve;
          worker.postMessage('close' satisfies CheckpointRequest);
        });
      }
      worker.terminate();
    },
  };
}
