import type { Fingerprint, MaybePromise, TaskFeedReads } from '../contract/feed.ts';
import type { TaskRow } from '../contract/rows.ts';

export type { Fingerprint, MaybePromise, TaskFeedReads };

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

/** A task its writer has just changed (a won write that moved its updated_time), and whose it is. */
export interface WrittenTask {
  id: number;
  userId: number;
}

export interface TaskFeedEvent {
  eventId: string;
  row: TaskRow;
  reload?: undefined;
}
