/**
 * What a retention pass (SPEC §17) needs from storage. The domain decides the cutoffs and writes
 * the archive files (through the hooks); the store finds the expired rows, hands each batch to
 * `archive` before its delete commits, and deletes it in one transaction with the archive's
 * bookkeeping (and, for logs, the carry-forward rows). How a store removes is its own: row batches
 * now on both databases; PostgreSQL's monthly partitions may replace `removeExpired*` by
 * archiving and detaching whole months, with the same hooks and the same answer.
 */

export type RetentionTable = 'tasks' | 'logs';

/** One removed row as archived: every column by its SQL name (SPEC §4), `buttons` as the API gives it. */
export type ArchivedRow = Record<string, string | number | boolean | null>;

export interface RetentionHooks {
  /**
   * Append each group of rows to the archive files (one gzip member per group and file, in order),
   * fsynced, before any of their deletes commits. Returns, per group, the archive bookkeeping
   * (JSON text) to write in the transaction that deletes that group: committing the groups one by
   * one in order, each transaction holds exactly the lines of the rows it deletes.
   */
  archive(table: RetentionTable, groups: readonly (readonly ArchivedRow[])[]): Promise<string[]>;
  /** Group `index` of the last `archive` call was deleted and committed. */
  committed(index: number): void;
  /** The groups not committed yet will not be: take their lines back out of the files. */
  discard(): Promise<void>;
  /** Between two transactions: renew the pass's lease, and serve the event loop. False = stop here. */
  between(): Promise<boolean>;
}

export interface RemovedRows {
  /** Rows deleted (each one archived first). */
  removed: number;
  /** Delete transactions committed. */
  batches: number;
}

export interface RemovedLogs extends RemovedRows {
  /** Carry-forward rows (type 7) inserted; a user's row of this pass takes later batches' sums too. */
  carried: number;
}

export interface RetentionState {
  /** The archive bookkeeping as last committed (JSON text), or null before the first pass. */
  archive: string | null;
  /** When the last pass ended (ms), or null. */
  lastPass: number | null;
}

export interface RetentionStore {
  /** Rows per `archive` call that suit this database (SQLite deletes them in small groups). */
  readonly batchSize: number;
  state(): Promise<RetentionState>;
  /** Write the archive bookkeeping on its own (before a first append to a file). */
  saveArchive(archive: string): Promise<void>;
  saveLastPass(time: number): Promise<void>;
  /**
   * Remove finished tasks (progress `100%`, status SUCCESS or FAILURE) with submit_time < cutoff,
   * `batchSize` rows archived at a time (one `archive` call), each group deleted in a transaction
   * of its own after it. Unfinished tasks stay.
   */
  removeExpiredTasks(cutoff: number, batchSize: number, hooks: RetentionHooks): Promise<RemovedRows>;
  /**
   * Remove log rows with created_time < cutoff, each batch archived first and replaced, in its
   * delete's transaction, by one carry-forward row per user (type 7, created_time = cutoff, quota
   * the signed sum of the user's removed rows: LOG_BALANCE_SIGN).
   */
  removeExpiredLogs(cutoff: number, batchSize: number, hooks: RetentionHooks): Promise<RemovedLogs>;
}

/** The options-table keys of the bookkeeping (never listed as options). */
export const RETENTION_ARCHIVE_KEY = 'retention_archive';
export const RETENTION_LAST_PASS_KEY = 'retention_last_pass';
