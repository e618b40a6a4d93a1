/**
 * A listing worker thread (started by listing-pool.ts): its own connection to the gateway's WAL
 * file, opened for reads only, runs exactly the main thread's listTasks and posts back plain rows.
 */
import type { DB } from '../db/client.ts';
import { openReadOnlyDatabase } from '../db/read-only.ts';
import { AppError } from './errors.ts';
import { renderListing, type ListingReply, type ListingRequest, type ListingWorkerInit } from './listing-executor.ts';
import { listTasks } from '../db/sqlite/listing.ts';

declare const self: Worker;

let db: DB | null = null;

function errorOf(err: unknown): Extract<ListingReply, { ok: false }>['error'] {
  if (err instanceof AppError) return { message: err.message, kind: err.kind, code: err.code };
  return { message: err instanceof Error ? err.message : String(err) };
}

self.onmessage = (event: MessageEvent<ListingWorkerInit | ListingRequest>) => {
  const msg = event.data;
  if ('path' in msg) {
    try {
      db = openReadOnlyDatabase(msg.path);
      self.postMessage({ ready: true });
    } catch (err) {
      self.postMessage({ ready: false, error: errorOf(err).message });
    }
    return;
  }
  let reply: ListingReply;
  try {
    if (!db) throw new Error('listing worker has no database');
    const conn = db;
    // One read transaction per listing: the total and the rows come from one snapshot (as on the
    // single-threaded main connection), and it ends before the reply, so the next listing starts
    // a new snapshot that sees every write committed before it was posted (read-your-writes).
    const page = conn.$client.transaction(() => listTasks(conn, msg.filter, msg.paging))();
    reply = { id: msg.id, ok: true, result: msg.view ? renderListing(page, msg.view) : page };
  } catch (err) {
    reply = { id: msg.id, ok: false, error: errorOf(err) };
  }
  self.postMessage(reply);
};
