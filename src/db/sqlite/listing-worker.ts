/**
 * A listing worker thread (started by listing-pool.ts): its own connection to the gateway's WAL
 * file, opened for reads only, runs exactly the main thread's listTasks and posts back plain rows,
 * or the REST envelope rendered by the module the init message names (the domain's renderListing).
 */
import type { RenderListing } from '../../contract/listing.ts';
import type { DB } from '../client.ts';
import { openReadOnlyDatabase } from '../read-only.ts';
import { listTasks } from './listing.ts';
import type { ListingReply, ListingRequest, ListingWorkerInit } from './listing-executor.ts';

declare const self: Worker;

let db: DB | null = null;
let render: RenderListing | null = null;

/** An error's message, and its kind and code when it has them (the domain's AppError does). */
function errorOf(err: unknown): Extract<ListingReply, { ok: false }>['error'] {
  if (err instanceof Error && typeof (err as { kind?: unknown }).kind === 'string') {
    const { kind, code } = err as Error & { kind: string; code?: string };
    return { message: err.message, kind, code };
  }
  return { message: err instanceof Error ? err.message : String(err) };
}

async function init(msg: ListingWorkerInit): Promise<void> {
  try {
    const mod = (await import(msg.renderModule)) as { renderListing?: RenderListing };
    if (typeof mod.renderListing !== 'function') throw new Error(`${msg.renderModule} exports no renderListing`);
    render = mod.renderListing;
    db = openReadOnlyDatabase(msg.path);
    self.postMessage({ ready: true });
  } catch (err) {
    self.postMessage({ ready: false, error: errorOf(err).message });
  }
}

self.onmessage = (event: MessageEvent<ListingWorkerInit | ListingRequest>) => {
  const msg = event.data;
  if ('path' in msg) {
    void init(msg);
    return;
  }
  let reply: ListingReply;
  try {
    if (!db || !render) throw new Error('listing worker has no database');
    const conn = db;
    // One read transaction per listing: the total and the rows come from one snapshot (as on the
    // single-threaded main connection), and it ends before the reply, so the next listing starts
    // a new snapshot that sees every write committed before it was posted (read-your-writes).
    const page = conn.$client.transaction(() => listTasks(conn, msg.filter, msg.paging))();
    reply = { id: msg.id, ok: true, result: msg.view ? render(page, msg.view) : page };
  } catch (err) {
    reply = { id: msg.id, ok: false, error: errorOf(err) };
  }
  self.postMessage(reply);
};
