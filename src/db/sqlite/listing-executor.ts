import type { ListingExecutor, ListingView, RenderListing } from '../../contract/listing.ts';
import type { TaskRow } from '../../contract/rows.ts';
import { type Page, type PageQuery, pageOf, type TaskFilter } from '../../lib/paging.ts';
import type { DB } from '../client.ts';
import { listTasks } from './listing.ts';

/*
 * Where SQLite's task listings run (the contract's ListingExecutor): on the main thread, or on the
 * worker pool (listing-pool.ts) for the shapes that could hold other requests; `render` is the
 * domain's renderListing, passed in by the wiring (src/backend.ts) since db/ may not import it.
 */

export function inThreadListing(db: DB, render: RenderListing): ListingExecutor {
  return {
    list: async (filter, paging) => listTasks(db, filter, paging),
    listJson: async (filter, paging, view) => render(listTasks(db, filter, paging), view),
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

/** The first message a worker gets: which file to open, and the module whose `renderListing` renders REST envelopes. */
export interface ListingWorkerInit {
  path: string;
  renderModule: string;
}

/** A worker's answer to its init message. */
export type ListingWorkerReady = { ready: true } | { ready: false; error: string };

/** Whether a database path names a file other connections can open (not an in-memory one). */
export function isSharedFile(path: string): boolean {
  return path !== ':memory:' && !path.startsWith('file::memory:') && !/[?&]mode=memory\b/.test(path);
}
