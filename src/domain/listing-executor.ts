import type { DB } from '../db/client.ts';
import type { TaskRow } from '../db/schema/index.ts';
import { pageOf, type Page, type PageQuery } from './pagination.ts';
import { listTasks } from '../db/sqlite/listing.ts';
import { adminTaskItem, taskItem, type ImageLinkPolicy, type TaskFilter } from './tasks.ts';

/**
 * Where task listings run. bun:sqlite is synchronous, so a listing on the main thread holds every
 * other request (SPEC §12: /healthz within 2× of idle while the heaviest listing runs); the pool
 * (listing-pool.ts) runs the same listTasks on worker threads, the in-thread one runs it here
 * (`:memory:` databases, READ_WORKERS=0, most tests).
 */
export interface ListingExecutor {
  list(filter: TaskFilter, paging: PageQuery): Promise<Page<TaskRow>>;
  /**
   * The REST answer of a listing (`{ success, message, data }`) as JSON text, rendered where the
   * query ran: a 100-row page is ~0.2 MB of JSON, and building it is work the main thread skips.
   */
  listJson(filter: TaskFilter, paging: PageQuery, view: ListingView): Promise<string>;
  /** Stops the workers (if any); pending listings fail, none hangs. */
  close(): Promise<void>;
}

/** How a REST listing shows its rows: the admin view adds owner and channel. */
export interface ListingView {
  admin: boolean;
  policy: ImageLinkPolicy;
}

/** The REST envelope of a page; the same code renders in a worker and in-thread. */
export function renderListing(page: Page<TaskRow>, view: ListingView): string {
  const items = view.admin ? page.items.map((r) => adminTaskItem(r, view.policy)) : page.items.map((r) => taskItem(r, view.policy));
  return JSON.stringify({ success: true, message: '', data: { ...page, items } });
}

export function inThreadListing(db: DB): ListingExecutor {
  return {
    list: async (filter, paging) => listTasks(db, filter, paging),
    listJson: async (filter, paging, view) => renderListing(listTasks(db, filter, paging), view),
    close: async () => {},
  };
}

/** Rows a listing may skip in-thread before its page is worth a trip to a worker. */
const INLINE_MAX_OFFSET = 2048;

/**
 * The shapes that stay on the main thread: no time range and a shallow page. Such a listing is a
 * counter read plus an index walk of a few hundred entries at most (~0.2 ms), less than the trip to
 * a worker costs; time ranges and deep pages (bucket sums, block walks, and a range scan when rows
 * were written out of time order) go to the pool, so they can never hold other requests.
 */
export function runsInline(filter: TaskFilter, paging: PageQuery): boolean {
  const { pageSize, offset } = pageOf(paging);
  return filter.start === undefined && filter.end === undefined && offset + pageSize <= INLINE_MAX_OFFSET;
}

/** In-thread for the cheap shapes (runsInline), the pool for the rest. */
export function routedListing(inline: ListingExecutor, pooled: ListingExecutor): ListingExecutor {
  return {
    list: (filter, paging) => (runsInline(filter, paging) ? inline : pooled).list(filter, paging),
    listJson: (filter, paging, view) => (runsInline(filter, paging) ? inline : pooled).listJson(filter, paging, view),
    close: async () => {
      await Promise.all([inline.close(), pooled.close()]);
    },
  };
}

/** A filter and page as they cross to a worker: plain values only. */
export interface ListingRequest {
  id: number;
  filter: TaskFilter;
  paging: PageQuery;
  /** Set: answer with the rendered REST envelope instead of the rows. */
  view?: ListingView;
}

/** A worker's answer: the page, or the error listTasks threw (name, message, AppError kind). */
export type ListingReply =
  | { id: number; ok: true; result: Page<TaskRow> | string }
  | { id: number; ok: false; error: { message: string; kind?: string | undefined; code?: string | undefined } };

/** The first message a worker gets: which file to open. */
export interface ListingWorkerInit {
  path: string;
}

/** A worker's answer to its init message. */
export type ListingWorkerReady = { ready: true } | { ready: false; error: string };

/** Whether a database path names a file other connections can open (not an in-memory one). */
export function isSharedFile(path: string): boolean {
  return path !== ':memory:' && !path.startsWith('file::memory:') && !/[?&]mode=memory\b/.test(path);
}
