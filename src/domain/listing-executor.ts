import type { DB } from '../db/client.ts';
import type { TaskRow } from '../contract/rows.ts';
import { pageOf, type Page, type PageQuery } from './pagination.ts';
import { listTasks } from '../db/sqlite/listing.ts';
import { adminTaskItem, taskItem, type TaskFilter } from './tasks.ts';
import type { ListingExecutor, ListingView } from '../contract/listing.ts';

export type { ListingExecutor, ListingView };

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
