import type { ListingExecutor, ListingView } from '../../contract/listing.ts';
import type { ChargeInput, PayloadOf, SettleInput, TaskStore } from '../../contract/tasks.ts';
import type { PageQuery, TaskFilter } from '../../lib/paging.ts';
import type { DB } from '../client.ts';
import { createSqliteLeaseStore } from './lease.ts';
import { findTaskByMjId, imageTaskOf, ownTasksByMjIds, ownTasksByMjIdsSize, taskById } from './listing.ts';
import { chargeAndRecord, failAndRefundNow } from './money.ts';
import { createSqliteOutboxStore } from './outbox-worker.ts';
import { takeSubmitSlot } from './rate-limit.ts';
import { createSqliteRetentionStore } from './retention.ts';
import { moveTaskChannel, settleAccepted } from './settle.ts';
import { createSqliteSyncStore } from './sync.ts';
import { createSqliteTaskAdminStore } from './task-admin.ts';

/**
 * The contract's TaskStore on bun:sqlite (`satisfies` checks it here; the return type stays this
 * adapter's own, with its synchronous lease). Listings run where `listing` says (worker threads or
 * this thread, listing-executor.ts). Every method runs its
 * statements synchronously (each money method one bun:sqlite transaction, never
 * an await inside) and answers through a resolved promise.
 */
export function createSqliteTaskStore(db: DB, listing: Pick<ListingExecutor, 'list' | 'listJson'>) {
  return {
    tasks: {
      list: (filter: TaskFilter, paging: PageQuery) => listing.list(filter, paging),
      listJson: (filter: TaskFilter, paging: PageQuery, view: ListingView) => listing.listJson(filter, paging, view),
      byId: async (id: number) => taskById(db, id),
      findByMjId: async (mjId: string, userId: number | null) => findTaskByMjId(db, mjId, userId),
      ownByMjIds: async (userId: number, mjIds: readonly string[]) => ownTasksByMjIds(db, userId, mjIds),
      ownByMjIdsSize: async (userId: number, mjIds: readonly string[], itemCap: number) =>
        ownTasksByMjIdsSize(db, userId, mjIds, itemCap),
      imageTask: async (mjId: string) => imageTaskOf(db, mjId),
    },
    money: {
      chargeAndRecord: async (input: ChargeInput) => chargeAndRecord(db, input),
      settleAccepted: async (input: SettleInput, hook: PayloadOf | null) => settleAccepted(db, input, hook),
      failAndRefund: async (...args) => failAndRefundNow(db, ...args),
      moveTaskChannel: async (taskId: number, from: number, to: number, now: number) =>
        moveTaskChannel(db, taskId, from, to, now),
    },
    sync: createSqliteSyncStore(db),
    outbox: createSqliteOutboxStore(db),
    rateLimit: {
      take: async (tokenId: number, limit: number, now: number) => takeSubmitSlot(db, tokenId, limit, now),
    },
    lease: createSqliteLeaseStore(db),
    admin: createSqliteTaskAdminStore(db),
    retention: createSqliteRetentionStore(db),
  } satisfies TaskStore;
}
