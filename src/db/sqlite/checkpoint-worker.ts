import { Database } from 'bun:sqlite';

/**
 * The WAL checkpointer's thread (see checkpointer.ts): its own connection to the database file,
 * running a PASSIVE checkpoint when asked and answering with SQLite's counts.
 */

declare const self: Worker;

let db: Database | null = null;

export type CheckpointRequest = { path: string } | 'checkpoint' | 'close';
export type CheckpointReply = { busy: number; log: number; checkpointed: number } | { failed: string } | 'closed';

self.onmessage = (event: MessageEvent<CheckpointRequest>) => {
  const m = event.data;
  try {
    if (typeof m === 'object') {
      db = new Database(m.path);
      db.exec('PRAGMA busy_timeout = 5000;');
    } else if (m === 'checkpoint' && db) {
      const r = db
        .query<{ busy: number; log: number; checkpointed: number }, []>('PRAGMA wal_checkpoint(PASSIVE)')
        .get();
      self.postMessage(r ?? ({ failed: 'no answer' } satisfies CheckpointReply));
    } else if (m === 'close') {
      db?.close();
      db = null;
      self.postMessage('closed' satisfies CheckpointReply);
    }
  } catch (err) {
    self.postMessage({ failed: err instanceof Error ? err.message : String(err) } satisfies CheckpointReply);
  }
};
