import { Database, type Statement } from 'bun:sqlite';
import { drizzle } from 'drizzle-orm/bun-sqlite';
import { schema, type DB } from '../db/client.ts';
import { applySyncOps, type SyncOp } from '../db/sqlite/sync.ts';
import { FEED_READS_SQL, type TaskFingerprint } from '../db/sqlite/feed-reads.ts';
import { webhookPayloadOf } from '../domain/webhooks.ts';
import type { ImageLinkPolicy } from '../domain/tasks.ts';
import type { SyncOpResult } from '../domain/store/tasks.ts';

/**
 * The poller's write thread on bun:sqlite (see poll-writer.ts): its own connection to the file,
 * applying each batch of planned ops with exactly the main thread's applySyncOps (one
 * transaction, compare-and-set endings and refunds, the webhook outbox in the same transaction),
 * the webhook payloads rendered here with the link policy the batch was sent with.
 */

declare const self: Worker;

export interface PollWriteInit {
  path: string;
}
export interface PollWriteRequest {
  seq: number;
  ops: SyncOp[];
  now: number;
  /** Image links of webhook payloads; null = the raw upstream links. */
  links: ImageLinkPolicy | null;
}
export type PollWriteReply =
  | { ready: true }
  | { ready: false; error: string }
  | { seq: number; results: SyncOpResult[] }
  | { seq: number; error: string; code: string | null };

let db: DB | null = null;
let fingerprints: Statement<TaskFingerprint, [string]> | null = null;

/**
 * A second writable connection to an already migrated file (the main thread migrated it first),
 * with the pragmas of openDatabase. WAL checkpoints are left to the checkpointer thread.
 */
function openWriter(path: string): DB {
  const sqlite = new Database(path, { readwrite: true, create: false, strict: true });
  sqlite.exec('PRAGMA busy_timeout = 5000;');
  sqlite.exec('PRAGMA synchronous = NORMAL;');
  sqlite.exec('PRAGMA foreign_keys = ON;');
  sqlite.exec('PRAGMA recursive_triggers = ON;');
  sqlite.exec('PRAGMA wal_autocheckpoint = 0;');
  return drizzle({ client: sqlite, schema }) as DB;
}

function codeOf(err: unknown): string | null {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return null;
}

self.onmessage = (event: MessageEvent<PollWriteInit | PollWriteRequest | 'close'>) => {
  const m = event.data;
  if (m === 'close') {
    db?.$client.close();
    db = null;
    self.postMessage('closed');
    return;
  }
  if ('path' in m) {
    try {
      db = openWriter(m.path);
      fingerprints = db.$client.prepare<TaskFingerprint, [string]>(FEED_READS_SQL.fingerprints);
      self.postMessage({ ready: true } satisfies PollWriteReply);
    } catch (err) {
      self.postMessage({ ready: false, error: err instanceof Error ? err.message : String(err) } satisfies PollWriteReply);
    }
    return;
  }
  try {
    if (!db) throw new Error('poll writer has no database');
    const policy = m.links;
    const results = applySyncOps(db, m.ops, m.now, webhookPayloadOf(m.now, policy ? () => policy : undefined));
    // The live feed's fingerprints of the rows written, read right after the commit as the main
    // thread's publish would (it then records them without reading them again).
    const won = m.ops.filter((_, k) => results[k]!.won).map((op) => op.taskId);
    if (won.length > 0 && fingerprints) {
      const byId = new Map(fingerprints.all(JSON.stringify(won)).map((f) => [f.id, f]));
      results.forEach((r, k) => {
        const f = r.won ? byId.get(m.ops[k]!.taskId) : undefined;
        if (f) r.feed = { userId: f.user_id, fp: f.fp };
      });
    }
    self.postMessage({ seq: m.seq, results } satisfies PollWriteReply);
  } catch (err) {
    self.postMessage({ seq: m.seq, error: err instanceof Error ? err.message : String(err), code: codeOf(err) } satisfies PollWriteReply);
  }
};
