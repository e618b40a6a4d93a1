import type { FailurePatch, PayloadOf, PollRow, RefundResult } from './tasks.ts';

/**
 * What upstream push, reconciliation and the money timeline (SPEC §16) need from storage beyond
 * the poller's own reads and writes (which they reuse: TaskStore['sync']).
 */
export interface TaskAdminStore {
  /**
   * The tasks of one channel with this upstream id, finished or not, newest first (at most a
   * handful: an upstream id names one job), with the columns the poller compares and ends.
   */
  channelTasks(channelId: number, mjId: string): Promise<PollRow[]>;
  /**
   * An admin ends an unfinished task still holding `expectedQuota`: failAndRefund's compare-and-set
   * (refunded exactly once), and the refund row's content set to `refundNote` in the same transaction.
   */
  adminFail(
    taskId: number,
    expectedQuota: number,
    patch: FailurePatch,
    now: number,
    modelName: string,
    refundNote: string,
    hook?: PayloadOf,
  ): Promise<RefundResult>;
  /** The log rows of one task (consume, refund, system), oldest first. */
  taskLogs(taskId: number): Promise<TaskLogRow[]>;
}

export interface TaskLogRow {
  id: number;
  type: number;
  content: string;
  quota: number;
  channelId: number;
  createdTime: number;
}
