import type { DB } from '../db/client.ts';
import type { TaskRow } from '../db/schema/index.ts';
import type { Page, PageQuery } from './pagination.ts';
import { listTasks, type TaskFilter } from './tasks.ts';

/**
 * Where task listings run. bun:sqlite is synchronous, so a listing on the main thread holds every
 * other request (SPEC §12: /healthz within 2× of idle while the heaviest listing runs); the pool
 * (listing-pool.ts) runs the same listTasks on worker threads, the in-thread one runs it here
 * (`:memory:` databases, READ_WORKERS=0, most tests).
 */
export interface ListingExecutor {
  list(filter: TaskFilter, paging: PageQuery): Promise<Page<TaskRow>>;
  /** Stops the workers (if any); pending listings fail, none hangs. */
  close(): Promise<void>;
}

export function inThreadListing(db: DB): ListingExecutor {
  return {
    list: async (filter, paging) => listTasks(db, filter, paging),
    close: async () => {},
  };
}

/** A filter and page as they cross to a worker: plain values only. */
export interface ListingRequest {
  id: number;
  filter: TaskFilter;
  paging: PageQuery;
}

/** A worker's answer: the page, or the error listTasks threw (name, message, AppError kind). */
export type ListingReply =
  | { id: number; ok: true; page: Page<TaskRow> }
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
