import type { Page, PageQuery, TaskFilter } from '../../lib/paging.ts';
import type { DB } from '../client.ts';
import type { TaskRow } from '../../contract/rows.ts';
import { createSqliteLeaseStore } from './lease.ts';
import { findTaskByMjId, imageTaskOf, ownTasksByMjIds, ownTasksByMjIdsSize, taskById } from './listing.ts';
import { chargeAndRecord, failAndRefundNow } from './money.ts';
import { takeSubmitSlot } from './rate-limit.ts';
import { moveTaskChannel, settleAccepted } from './settle.ts';
import { createSqliteSyncStore } from './sync.ts';
import { createSqliteOutboxStore } from './outbox-worker.ts';
import { createSqliteTaskAdminStore } from './task-admin.ts';
import type { ChargeInput, FailurePatch, PayloadOf, SettleInput } from '../../contract/tasks.ts';

/**
 * Where listings run on SQLite: worker threads with their own connections, or this thread (the
 * domain's ListingExecutor; `V` is its view type, which db/ may not name).
 */
export interface SqliteListing<V> {
  list(filter: TaskFilter, paging: PageQuery): Promise<Page<TaskRow>>;
  listJson(filter: TaskFilter, paging: PageQuery, view: V): Promise<string>;
}

/**
 * The domain's TaskStore on bun:sqlite (structurally: db/ may not import domain/; the type-level
 * test tests/unit/task-store-types.test.ts holds the two together). Every method runs its
 * statements synchronously (each money method one bun:sqlite transaction, never
 * an await inside) and answers through a resolved promise.
 */
export function createSqliteTaskStore<V>(db: DB, listing: SqliteListing<V>) {
  return {
    tasks: {
      list: (filter: TaskFilter, paging: PageQuery) => listing.list(filter, paging),
      listJson: (filter: TaskFilter, paging: PageQuery, view: V) => listing.listJson(filter, paging, view),
      byId: async (id: number) => taskById(db, id),
      findByMjId: async (mjId: string, userId: number | null) => findTaskByMjId(db, mjId, userId),
      ownByMjIds: async (userId: number, mjIds: readonly string[]) => ownTasksByMjIds(db, userId, mjIds),
      ownByMjIdsSize: async (userId: number, mjIds: readonly string[], itemCap: number) => ownTasksByMjIdsSize(db, userId, mjIds, itemCap),
      imageTask: async (mjId: string) => imageTaskOf(db, mjId),
    },
    money: {
      chargeAndRecord: async (input: ChargeInput) => chargeAndRecord(db, input),
      settleAccepted: async (input: SettleInput, hook: PayloadOf | null) => settleAccepted(db, input, hook),
      failAndRefund: async (taskId: number, expectedQuota: number, patch: FailurePatch, now: number, modelName: string, hook?: PayloadOf) =>
        failAndRefundNow(db, taskId, expectedQuota, patch, now, modelName, hook),
      moveTaskChannel: async (taskId: number, from: number, to: number, now: number) => moveTaskChannel(db, taskId, from, to, now),
    },
    sync: createSqliteSyncStore(db),
    outbox: createSqliteOutboxStore(db),
    rateLimit: {
      take: async (tokenId: number, limit: number, now: number) => takeSubmitSlot(db, tokenId, limit, now),
    },
    lease: createSqliteLeaseStore(db),
    admin: createSqliteTaskAdminStore(db),
  };
}

export type SqliteTaskStore<V> = ReturnType<typeof createSqliteTaskStore<V>>;
