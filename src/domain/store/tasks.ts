import type { TaskRow } from '../../db/schema/index.ts';
import type { ListingView } from '../listing-executor.ts';
import type { LeaseStore } from '../lease.ts';
import type { Page, PageQuery } from '../pagination.ts';
import type { TaskFilter } from '../tasks.ts';

/**
 * What the tasks side of the domain (relay, poller, listings, image route, webhooks) needs from
 * storage, over plain rows. One adapter per dialect implements it (src/db/sqlite now, src/db/pg
 * next); the domain never asks which one it runs on. Every method is async: SQLite's adapter does
 * its work synchronously inside (bun:sqlite transactions must be), PostgreSQL's awaits.
 */
export interface TaskStore {
  tasks: TaskReads;
  /** Named leases (the poller's leader election). */
  lease: LeaseStore;
}

/** The image forwarder's view of a task. */
export interface ImageTask {
  status: string;
  imageUrl: string;
}

export interface TaskReads {
  /** One page of tasks, newest first, with the filter's exact total (SPEC §6). */
  list(filter: TaskFilter, paging: PageQuery): Promise<Page<TaskRow>>;
  /** The REST envelope of a page as JSON text, rendered where the listing ran (see ListingExecutor). */
  listJson(filter: TaskFilter, paging: PageQuery, view: ListingView): Promise<string>;
  /** The newest task with this upstream id, of one user (or of anyone when userId is null). */
  findByMjId(mjId: string, userId: number | null): Promise<TaskRow | null>;
  /** A user's tasks among these upstream ids, oldest first, long text cut as a listing cuts it; the caller bounds the list. */
  ownByMjIds(userId: number, mjIds: readonly string[]): Promise<TaskRow[]>;
  /** Status and stored image link of the newest task with this upstream id (any user). */
  imageTask(mjId: string): Promise<ImageTask | null>;
}
