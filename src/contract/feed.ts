import type { TaskRow } from './rows.ts';

export type MaybePromise<T> = T | Promise<T>;
/** A task's change fingerprint: what a subscriber would see move. */
export type Fingerprint = { id: number; user_id: number; fp: string };

/**
 * The reads InProcessTaskFeed makes: synchronous on SQLite (src/db/sqlite/feed-reads.ts: publish
 * reads the fingerprints right after the writer's commit), asynchronous on PostgreSQL
 * (src/db/pg/task-reads.ts), where publishes are then applied one after another, in call order.
 */
export interface TaskFeedReads {
  /** Fingerprints of these tasks (ids that exist). */
  fingerprints(taskIds: readonly number[]): MaybePromise<Fingerprint[]>;
  row(id: number): MaybePromise<TaskRow | null>;
  /** Tasks submitted at or after `windowStart` and updated at or after `since`, newest change first, at most `limit`. */
  replay(userId: number | null, windowStart: number, since: number, limit: number): MaybePromise<TaskRow[]>;
  /**
   * How many rows `replay` would return and the fewest bytes their items take (items capped at
   * `itemCap`), from the column lengths in SQL: an oversize replay is refused without being read.
   * May stop early with a part already past `limit` rows or `maxBytes` (the rows submitted since).
   */
  replaySize?(
    userId: number | null,
    windowStart: number,
    since: number,
    limit: number,
    itemCap: number,
    maxBytes: number,
  ): MaybePromise<{ count: number; bytes: number }>;
}
