import type { Page, PageQuery, TaskFilter } from '../lib/paging.ts';
import type { LeaseStore } from './lease.ts';
import type { ListingView } from './listing.ts';
import type { RetentionStore } from './retention.ts';
import type { DeliveryRow, NewTaskRow, TaskRow } from './rows.ts';
import type { TaskAdminStore } from './task-admin.ts';

/**
 * What the tasks side of the domain (relay, poller, listings, image route, webhooks) needs from
 * storage, over plain rows. One adapter per dialect implements it (src/db/sqlite now, src/db/pg
 * next); the domain never asks which one it runs on. Every method is async: SQLite's adapter does
 * its work synchronously inside (bun:sqlite transactions must be), PostgreSQL's awaits.
 */
export interface TaskStore {
  tasks: TaskReads;
  /** The money paths: each method is one transaction with its guards in SQL. */
  money: MoneyStore;
  /** The poller's reads and writes: the unfinished tasks, and a planned batch applied in one transaction. */
  sync: SyncStore;
  /** The webhook worker's side of the outbox: every write a compare-and-set on (id, attempts, pending). */
  outbox: OutboxStore;
  /** Relay submits per key per minute, counted in the database (shared by every process). */
  rateLimit: { take(tokenId: number, limit: number, now: number): Promise<SlotResult> };
  /** Named leases (the poller's leader election). */
  lease: LeaseStore;
  /** Upstream push, reconciliation and the money timeline (SPEC §16). */
  admin: TaskAdminStore;
  /** Retention (SPEC §17): expired rows archived through hooks, then removed. */
  retention: RetentionStore;
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
  /** One task by its local id. */
  byId(id: number): Promise<TaskRow | null>;
  /** The newest task with this upstream id, of one user (or of anyone when userId is null). */
  findByMjId(mjId: string, userId: number | null): Promise<TaskRow | null>;
  /** A user's tasks among these upstream ids, oldest first, long text cut as a listing cuts it; the caller bounds the list. */
  ownByMjIds(userId: number, mjIds: readonly string[]): Promise<TaskRow[]>;
  /**
   * The fewest bytes the items of ownByMjIds(userId, mjIds) take (items capped at `itemCap`), from
   * the text columns' stored lengths, without reading them (SPEC §10: refused before it is built).
   */
  ownByMjIdsSize?(userId: number, mjIds: readonly string[], itemCap: number): Promise<number>;
  /** Status and stored image link of the newest task with this upstream id (any user). */
  imageTask(mjId: string): Promise<ImageTask | null>;
}

/** Renders a webhook delivery's payload from the task row as written (the domain's view). */
export type PayloadOf = (task: TaskRow) => string;

export type SlotResult = { allowed: true } | { allowed: false; retryAfterSeconds: number };

export interface ChargeInput {
  userId: number;
  tokenId: number;
  /** Unlimited tokens are not decremented, only their used_quota grows. */
  unlimitedToken: boolean;
  channelId: number;
  modelName: string;
  quota: number;
  now: number;
  /** The task row recorded together with the charge (its quota is set to the charge). */
  task: Omit<NewTaskRow, 'quota' | 'userId' | 'tokenId' | 'channelId'>;
  /** The submit's notifyHook, recorded with the task so no change of it goes undelivered. */
  hookUrl?: string | null;
}

/** Fields written on the task together with a refund (its final failure state). */
export interface FailurePatch {
  status?: string;
  progress?: string;
  failReason: string;
  finishTime?: number;
  [field: string]: unknown;
}

export interface RefundResult {
  /** The compare-and-set won: this call ended the task. */
  won: boolean;
  /** Quota credited back (0 when the task was not charged). */
  refunded: number;
}

/** What an accepted submit writes on its task (values already cut to their bounds). */
export interface SettleInput {
  /** Finished at once (an upload, or an "already exists" answer with status SUCCESS). */
  done: boolean;
  /** Set imageUrl (only with an existing finished image). */
  withImage: boolean;
  params: {
    taskId: number;
    mjId: string;
    code: number;
    description: string;
    properties: string;
    now: number;
    status: string;
    progress: string;
    imageUrl: string;
  };
}

export interface MoneyStore {
  /**
   * Charge a submission (`quota >= price` on the user and, unless unlimited, the token) and
   * record its task, its hook and its consume row in one transaction; nothing written when short.
   */
  chargeAndRecord(input: ChargeInput): Promise<number | 'quota_not_enough'>;
  /**
   * The upstream accepted: compare-and-set on "still unfinished", name the consume row, and
   * (`hook`) queue the webhook, in one transaction. True when this call won.
   */
  settleAccepted(input: SettleInput, hook: PayloadOf | null): Promise<boolean>;
  /**
   * End an unfinished task still holding `expectedQuota` as failed and refund it, exactly once
   * (compare-and-set); the winner queues the webhook when `hook` is given.
   */
  failAndRefund(
    taskId: number,
    expectedQuota: number,
    patch: FailurePatch,
    now: number,
    modelName: string,
    hook?: PayloadOf,
  ): Promise<RefundResult>;
  /** Failover: re-point an unfinished task and its charge's channel accounting; false when it was ended meanwhile. */
  moveTaskChannel(taskId: number, from: number, to: number, now: number): Promise<boolean>;
}

/** The fields the poller writes from an upstream answer (task-sync-normalise SyncFields). */
export interface SyncFieldValues {
  progress: string;
  status: string;
  promptEn: string;
  state: string;
  startTime: number;
  finishTime: number;
  imageUrl: string;
  videoUrl: string;
  videoUrls: string;
  failReason: string;
  buttons: string;
  properties: string;
}

/** One planned write: an update of a still unfinished row, or an ending with its refund. */
export type SyncOp =
  /**
   * `columns`: the fields that differ from the row as read, when known; a store may then write
   * only those (the others are what the row holds), else it writes every field.
   */
  | { kind: 'update'; taskId: number; fields: SyncFieldValues; columns?: readonly (keyof SyncFieldValues)[] }
  | { kind: 'fail'; taskId: number; expectedQuota: number; fields: FailurePatch; modelName: string };

/** Per op: written (update: the row was still unfinished; fail: won the compare-and-set), and the refund. */
export interface SyncOpResult {
  won: boolean;
  refunded: number;
  /** The database refused this op's row (why): nothing of it was written, the rest of its batch was. */
  refused?: string;
}

/** The columns of an unfinished task the poller reads: what it compares, ends and refunds. */
export type PollRow = Pick<
  TaskRow,
  'id' | 'userId' | 'channelId' | 'action' | 'mjId' | 'submitTime' | 'updatedTime' | 'quota' | keyof SyncFieldValues
>;

export interface SyncStore {
  /** The channel ids (existing or deleted) that have unfinished tasks (progress not 100%), ascending. */
  unfinishedChannels(): Promise<number[]>;
  /**
   * One keyset page of a channel's unfinished tasks: id above `afterId`, by id, at most `limit`.
   * A walk passing each page's last id as the next `afterId` sees every task unfinished
   * throughout it exactly once, and any inserted meanwhile with a higher id.
   */
  unfinishedPage(channelId: number, afterId: number, limit: number): Promise<PollRow[]>;
  /**
   * Apply ops in one transaction, never onto a row another writer already finished, and queue
   * the webhook deliveries of every row written (payloads rendered by `hook`). Results in op order.
   * A row the database refuses is left out alone (`refused`), never the whole batch (SPEC §10).
   */
  apply(ops: readonly SyncOp[], now: number, hook: PayloadOf): Promise<SyncOpResult[]>;
}

/** The signing secrets of a delivery's API key: the current one, and the one before the last rotation and when it was rotated. */
export interface DeliverySecrets {
  secret: string;
  previous: string | null;
  rotatedAt: number | null;
}

export interface OutboxStore {
  /**
   * Up to `limit` pending deliveries due at `now`, in id order, only each task's oldest pending one,
   * and only a few per receiver and per user (lib/webhook-receiver.ts), so one backlog never fills it.
   */
  due(now: number, limit: number): Promise<DeliveryRow[]>;
  /** Take a due row for one send (its next attempt pushed past the send's timeout); false when another worker took it. */
  claim(row: DeliveryRow, now: number): Promise<boolean>;
  /** The signing secrets of the delivery's API key (the one before the last rotation too), or why there is none. */
  secret(tokenId: number): Promise<DeliverySecrets | { missing: string }>;
  /** Record a 2xx; false when the row moved on meanwhile. */
  markDelivered(row: DeliveryRow, now: number): Promise<boolean>;
  /** Record a failed attempt: retried at `retryAt`, or (null) failed for good. */
  markAttemptFailed(row: DeliveryRow, error: string, retryAt: number | null): Promise<void>;
  /** Never to be sent (refused URL, key gone): failed at once, no attempt counted. */
  markRefused(row: DeliveryRow, reason: string): Promise<void>;
}
