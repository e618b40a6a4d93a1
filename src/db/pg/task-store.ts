import type { ListingView, RenderListing } from '../../contract/listing.ts';
import type { DeliveryRow } from '../../contract/rows.ts';
import type { ChargeInput, FailurePatch, PayloadOf, SettleInput, SyncOp, TaskStore } from '../../contract/tasks.ts';
import type { PageQuery, TaskFilter } from '../../lib/paging.ts';
import type { PgDB } from './client.ts';
import { createPgLeaseStore, type PgLeaseOptions } from './lease.ts';
import { listTasksPg, ownTasksByMjIdsSizePg } from './listing.ts';
import { claimDeliveryPg, deliverySecretPg, markDeliveredPg, selectDueDeliveriesPg } from './outbox.ts';
import { takeSubmitSlotPg } from './rate-limit.ts';
import { createPgRetentionStore } from './retention.ts';
import { createPgTaskAdminStore } from './task-admin.ts';
import { chargeAndRecordTaskPg, failAndRefundTaskPg, moveTaskChannelPg, settleTaskPg } from './task-money.ts';
import { findTaskByMjIdPg, imageTaskPg, ownTasksByMjIdsPg, taskByIdPg } from './task-reads.ts';
import { applySyncOpsPg, unfinishedChannelsPg, unfinishedPagePg } from './task-sync.ts';

const LAST_ERROR_MAX = 500;

/** The worker's side of the outbox: every write a compare-and-set on (id, attempts, pending), as on SQLite. */
function createPgOutboxStore(db: PgDB) {
  const sql = db.$client;
  return {
    due: (now: number, limit: number) => selectDueDeliveriesPg(db, now, limit),
    claim: (row: DeliveryRow, now: number) => claimDeliveryPg(db, row, now),
    secret: (tokenId: number) => deliverySecretPg(db, tokenId),
    markDelivered: (row: DeliveryRow, now: number) => markDeliveredPg(db, row, now),
    /** The retry policy is the domain's (failedAttemptOf): `retryAt` null means failed for good. */
    async markAttemptFailed(row: DeliveryRow, error: string, retryAt: number | null): Promise<void> {
      await sql`
        UPDATE webhook_deliveries SET attempts = ${row.attempts + 1}::int, last_error = ${error.slice(0, LAST_ERROR_MAX)}::text,
          status = CASE WHEN ${retryAt}::bigint IS NULL THEN 'failed' ELSE status END,
          next_attempt_at = coalesce(${retryAt}::bigint, next_attempt_at)
        WHERE id = ${row.id}::int AND attempts = ${row.attempts}::int AND status = 'pending'`;
    },
    async markRefused(row: DeliveryRow, reason: string): Promise<void> {
      await sql`
        UPDATE webhook_deliveries SET status = 'failed', last_error = ${reason.slice(0, LAST_ERROR_MAX)}::text
        WHERE id = ${row.id}::int AND attempts = ${row.attempts}::int AND status = 'pending'`;
    },
  };
}

export interface PgTaskStoreOptions {
  lease?: PgLeaseOptions;
  /**
   * Announce every task a write changed on notify.ts TASKS_CHANNEL inside its transaction (default
   * true), so each replica's task feed (onTaskChanges) hears of it after the commit. On SQLite the
   * writer's process publishes to its in-process feed instead; nothing else differs.
   */
  notifyChanges?: boolean;
}

/**
 * The contract's TaskStore on PostgreSQL (`satisfies` checks it here), with the SQLite adapter's
 * semantics (src/db/sqlite/task-store.ts). Every money method is one transaction with its guards
 * in SQL; listings run on the pool and `render` turns a page into the REST envelope.
 */
export function createPgTaskStore(db: PgDB, render: RenderListing, opts: PgTaskStoreOptions = {}) {
  const notify = opts.notifyChanges ?? true;
  return {
    tasks: {
      list: (filter: TaskFilter, paging: PageQuery) => listTasksPg(db, filter, paging),
      listJson: async (filter: TaskFilter, paging: PageQuery, view: ListingView) =>
        render(await listTasksPg(db, filter, paging), view),
      byId: (id: number) => taskByIdPg(db, id),
      findByMjId: (mjId: string, userId: number | null) => findTaskByMjIdPg(db, mjId, userId),
      ownByMjIds: (userId: number, mjIds: readonly string[]) => ownTasksByMjIdsPg(db, userId, mjIds),
      ownByMjIdsSize: (userId: number, mjIds: readonly string[], itemCap: number) =>
        ownTasksByMjIdsSizePg(db, userId, mjIds, itemCap),
      imageTask: (mjId: string) => imageTaskPg(db, mjId),
    },
    money: {
      chargeAndRecord: (input: ChargeInput) => chargeAndRecordTaskPg(db, input, notify),
      settleAccepted: (input: SettleInput, hook: PayloadOf | null) => settleTaskPg(db, input, hook, notify),
      failAndRefund: (
        taskId: number,
        expectedQuota: number,
        patch: FailurePatch,
        now: number,
        modelName: string,
        hook?: PayloadOf,
      ) => failAndRefundTaskPg(db, taskId, expectedQuota, patch, now, modelName, hook, notify),
      moveTaskChannel: (taskId: number, from: number, to: number, now: number) =>
        moveTaskChannelPg(db, taskId, from, to, now, notify),
    },
    sync: {
      unfinishedChannels: () => unfinishedChannelsPg(db),
      unfinishedPage: (channelId: number, afterId: number, limit: number) =>
        unfinishedPagePg(db, channelId, afterId, limit),
      apply: (ops: readonly SyncOp[], now: number, hook: PayloadOf) => applySyncOpsPg(db, ops, now, hook, notify),
    },
    outbox: createPgOutboxStore(db),
    rateLimit: {
      take: (tokenId: number, limit: number, now: number) => takeSubmitSlotPg(db, tokenId, limit, now),
    },
    lease: createPgLeaseStore(db, opts.lease),
    admin: createPgTaskAdminStore(db, notify),
    retention: createPgRetentionStore(db),
  } satisfies TaskStore;
}
