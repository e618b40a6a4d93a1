import type { TaskRow } from '../contract/rows.ts';

/** The types of the live task feed (task-feed.ts), apart so that file stays about its behaviour. */

/**
 * What a replay may carry (SPEC §10): at most `changes` changes (the feed's replayLimit) and,
 * measured by `measure` (the subscriber's item size), at most `bytes`. A replay past either is not
 * sent: the subscriber gets one TaskFeedReload instead, then the live changes.
 */
export interface ReplayBounds {
  bytes: number;
  /** The most an item's texts take (the listing item budget). */
  itemCap: number;
  /** Runs the replay's reads (e.g. holding one of the user's listing places, SPEC §10). */
  guard?<T>(work: () => Promise<T>): Promise<T>;
  /** The fewest bytes these rows' items take (cheap, from lengths): past `bytes`, nothing is measured. */
  atLeast(rows: readonly TaskRow[]): number;
  measure(row: TaskRow): number;
}

/** The replay was refused: the subscriber shows the current state from a listing instead. */
export interface TaskFeedReload {
  eventId: string;
  reload: true;
}

export type MaybePromise<T> = T | Promise<T>;
export type Fingerprint = { id: number; user_id: number; fp: string };

/** A task its writer has just changed (a won write that moved its updated_time), and whose it is. */
export interface WrittenTask {
  id: number;
  userId: number;
}

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

export interface TaskFeedEvent {
  eventId: string;
  row: TaskRow;
  reload?: undefined;
}
