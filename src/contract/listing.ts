import type { Page, PageQuery, TaskFilter } from '../lib/paging.ts';
import type { TaskRow } from './rows.ts';

/** How image links are shown: through the gateway (`/mj/image/<mj_id>`) or as stored. */
export interface ImageLinkPolicy {
  forward: boolean;
  serverAddress: string;
}

/** How a REST listing shows its rows: the admin view adds owner and channel. */
export interface ListingView {
  admin: boolean;
  policy: ImageLinkPolicy;
}

/** The REST envelope of a page as JSON text (the domain's renderListing), wherever the listing runs. */
export type RenderListing = (page: Page<TaskRow>, view: ListingView) => string;

/**
 * Where task listings run. bun:sqlite is synchronous, so a listing on the main thread holds every
 * other request (SPEC §12: /healthz within 2× of idle while the heaviest listing runs); SQLite's
 * pool (src/db/sqlite/listing-pool.ts) runs the same listTasks on worker threads, the in-thread
 * one runs it on the main thread; PostgreSQL's is its task store's reads.
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
