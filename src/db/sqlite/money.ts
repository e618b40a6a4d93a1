import { and, eq, gte, ne, type Placeholder, sql } from 'drizzle-orm';
import { LOG_TYPE } from '../../contract/constants.ts';
import type { NewTaskRow } from '../../contract/rows.ts';
import type { ChargeInput, FailurePatch, PayloadOf, RefundResult } from '../../contract/tasks.ts';
import type { DB } from '../client.ts';
import { channels, logs, tasks, tokens, users } from '../schema/index.ts';
import type { DbLike } from '../types.ts';
import type { CountedValues } from './filter-deltas.ts';
import { enqueueTaskChange, recordTaskHook } from './outbox.ts';

/**
 * The money paths on bun:sqlite, and the only code that changes a task's quota. Every function
 * here is synchronous and runs inside one synchronous transaction (bun:sqlite is atomic only
 * then); the store's async methods wrap them, with any network call outside.
 */

/** Thrown inside the charge transaction to roll it back; never leaves this module. */
class QuotaNotEnough extends Error {}

/**
 * Charge a submission and record its task in one transaction, guarded by `quota >= price` on the
 * user and (unless unlimited) on the token, so concurrent submits never overdraw. Answers
 * `quota_not_enough` with nothing written, else the new task id.
 */
export function chargeAndRecord(db: DB, input: ChargeInput): number | 'quota_not_enough' {
  try {
    return chargeStatements(db).chargeTx(input);
  } catch (err) {
    if (err instanceof QuotaNotEnough) return 'quota_not_enough';
    throw err;
  }
}

/** The body of chargeAndRecord; runs inside its transaction (a throw rolls everything back). */
function chargeInTx(db: DB, s: ChargeStatements, input: ChargeInput): number {
  const q = input.quota;
  const u = s.chargeUser.get({ q, userId: input.userId });
  if (!u) throw new QuotaNotEnough();
  const t = input.unlimitedToken
    ? s.chargeUnlimitedToken.get({ q, tokenId: input.tokenId })
    : s.chargeToken.get({ q, tokenId: input.tokenId });
  if (!t) throw new QuotaNotEnough();
  s.chargeChannel.run({ q, channelId: input.channelId });
  const row = taskInsertFor(db, input.task).get({
    ...input.task,
    userId: input.userId,
    tokenId: input.tokenId,
    channelId: input.channelId,
    quota: q,
  })!;
  if (input.hookUrl)
    recordTaskHook(db, { taskId: row.id, userId: input.userId, tokenId: input.tokenId, url: input.hookUrl });
  if (q > 0) {
    s.consumeLog.run({
      userId: input.userId,
      content: `${input.modelName} charged ${q} for task ${row.id}`,
      quota: q,
      modelName: input.modelName,
      channelId: input.channelId,
      tokenId: input.tokenId,
      mjId: input.task.mjId ?? '',
      taskId: row.id,
      createdTime: input.now,
    });
  }
  return row.id;
}

/**
 * Name the upstream task on a task's consume row, so an operator joins charges to tasks by mj_id.
 * Call in the transaction that records the upstream's answer on the task row.
 */
export function recordConsumeMjId(tx: DbLike, taskId: number, mjId: string): void {
  if (mjId === '') return;
  tx.update(logs)
    .set({ mjId })
    .where(and(eq(logs.taskId, taskId), eq(logs.type, LOG_TYPE.consume)))
    .run();
}

/**
 * recordConsumeMjId with its statement prepared once per connection, for the submit's hot path.
 * Runs on `db`'s connection, so inside a transaction open on it the write is part of that.
 */
export function nameConsumeRow(db: DB, taskId: number, mjId: string): void {
  if (mjId === '') return;
  chargeStatements(db).nameConsume.run({ taskId, mjId });
}

/**
 * The statements of chargeAndRecord, prepared once per connection (the same SQL it used to build
 * per call): a submit binds values instead of building and compiling five statements.
 */
function buildChargeStatements(db: DB) {
  const p = sql.placeholder;
  return {
    chargeUser: db
      .update(users)
      .set({
        quota: sql`${users.quota} - ${p('q')}`,
        usedQuota: sql`${users.usedQuota} + ${p('q')}`,
        requestCount: sql`${users.requestCount} + 1`,
      })
      .where(and(eq(users.id, p('userId')), gte(users.quota, p('q'))))
      .returning({ id: users.id })
      .prepare(),
    chargeUnlimitedToken: db
      .update(tokens)
      .set({ usedQuota: sql`${tokens.usedQuota} + ${p('q')}` })
      .where(eq(tokens.id, p('tokenId')))
      .returning({ id: tokens.id })
      .prepare(),
    chargeToken: db
      .update(tokens)
      .set({
        remainQuota: sql`${tokens.remainQuota} - ${p('q')}`,
        usedQuota: sql`${tokens.usedQuota} + ${p('q')}`,
      })
      .where(and(eq(tokens.id, p('tokenId')), gte(tokens.remainQuota, p('q'))))
      .returning({ id: tokens.id })
      .prepare(),
    chargeChannel: db
      .update(channels)
      .set({ usedQuota: sql`${channels.usedQuota} + ${p('q')}` })
      .where(eq(channels.id, p('channelId')))
      .prepare(),
    consumeLog: db
      .insert(logs)
      .values({
        userId: p('userId'),
        type: LOG_TYPE.consume,
        content: p('content'),
        quota: p('quota'),
        modelName: p('modelName'),
        channelId: p('channelId'),
        tokenId: p('tokenId'),
        mjId: p('mjId'),
        taskId: p('taskId'),
        createdTime: p('createdTime'),
      })
      .prepare(),
    nameConsume: db
      .update(logs)
      .set({ mjId: sql`${p('mjId')}` })
      .where(and(eq(logs.taskId, p('taskId')), eq(logs.type, LOG_TYPE.consume)))
      .prepare(),
  };
}
type ChargeStatements = ReturnType<typeof buildChargeStatements>;
/**
 * The charge transaction is bun:sqlite's own, made once per connection: the same BEGIN (deferred)
 * / COMMIT, rolled back on a throw, as Drizzle's `db.transaction` (which wraps exactly this) without
 * building a transaction object and a new wrapper on every submit.
 */
function buildCharge(db: DB) {
  const s = buildChargeStatements(db);
  return { ...s, chargeTx: db.$client.transaction((input: ChargeInput) => chargeInTx(db, s, input)) };
}
const chargeCache = new WeakMap<DB, ReturnType<typeof buildCharge>>();

function chargeStatements(db: DB) {
  let s = chargeCache.get(db);
  if (!s) chargeCache.set(db, (s = buildCharge(db)));
  return s;
}

/** The task insert for the set of columns a caller gives (one shape per call site in practice). */
function buildTaskInsert(db: DB, columns: string[]) {
  const values: Record<string, Placeholder> = {};
  for (const c of columns) values[c] = sql.placeholder(c);
  return db
    .insert(tasks)
    .values(values as unknown as NewTaskRow)
    .returning({ id: tasks.id })
    .prepare();
}
const taskInsertCache = new WeakMap<DB, Map<string, ReturnType<typeof buildTaskInsert>>>();

function taskInsertFor(db: DB, task: ChargeInput['task']) {
  const columns = [
    ...Object.keys(task).filter((k) => task[k as keyof typeof task] !== undefined),
    'userId',
    'tokenId',
    'channelId',
    'quota',
  ].sort();
  const key = columns.join(',');
  let byShape = taskInsertCache.get(db);
  if (!byShape) taskInsertCache.set(db, (byShape = new Map()));
  let stmt = byShape.get(key);
  if (!stmt) byShape.set(key, (stmt = buildTaskInsert(db, columns)));
  return stmt;
}

/**
 * End an unfinished task as failed and give back what it still holds, exactly once: the task row
 * is updated only if it is still unfinished and still holds `expectedQuota` (compare-and-set),
 * and only the winner credits the user, the token (unless unlimited) and the channel and writes
 * the refund log; with `hook`, the winner also queues the change's webhook deliveries. Call
 * inside a transaction (failAndRefundNow opens one). The winner's `counted` values are what a
 * batch that sums its own filter counts needs (filter-deltas.ts).
 */
export function failAndRefund(
  tx: DbLike,
  taskId: number,
  expectedQuota: number,
  patch: FailurePatch,
  now: number,
  modelName: string,
  hook?: PayloadOf,
): RefundResult & { counted?: CountedValues } {
  const ended = tx
    .update(tasks)
    .set({
      ...patch,
      status: patch.status ?? 'FAILURE',
      progress: patch.progress ?? '100%',
      quota: 0,
      updatedTime: now,
    })
    .where(and(eq(tasks.id, taskId), eq(tasks.quota, expectedQuota), ne(tasks.progress, '100%')))
    .returning({
      userId: tasks.userId,
      tokenId: tasks.tokenId,
      channelId: tasks.channelId,
      mjId: tasks.mjId,
      status: tasks.status,
      action: tasks.action,
    })
    .get();
  if (!ended) return { won: false, refunded: 0 };
  const q = expectedQuota;
  if (q > 0) {
    tx.update(users)
      .set({
        quota: sql`${users.quota} + ${q}`,
        usedQuota: sql`max(${users.usedQuota} - ${q}, 0)`,
      })
      .where(eq(users.id, ended.userId))
      .run();
    tx.update(tokens)
      .set({
        remainQuota: sql`CASE WHEN ${tokens.unlimitedQuota} THEN ${tokens.remainQuota} ELSE ${tokens.remainQuota} + ${q} END`,
        usedQuota: sql`max(${tokens.usedQuota} - ${q}, 0)`,
      })
      .where(eq(tokens.id, ended.tokenId))
      .run();
    tx.update(channels)
      .set({ usedQuota: sql`max(${channels.usedQuota} - ${q}, 0)` })
      .where(eq(channels.id, ended.channelId))
      .run();
    tx.insert(logs)
      .values({
        userId: ended.userId,
        type: LOG_TYPE.refund,
        content: `refund: ${patch.failReason}`.slice(0, 500),
        quota: q,
        modelName,
        channelId: ended.channelId,
        tokenId: ended.tokenId,
        mjId: ended.mjId,
        taskId,
        createdTime: now,
      })
      .run();
    // A rejected submit may still carry an upstream id (patch.mjId): its charge names it too.
    if (typeof patch.mjId === 'string') recordConsumeMjId(tx, taskId, ended.mjId);
  }
  if (hook) enqueueTaskChange(tx, [taskId], now, hook);
  return { won: true, refunded: q, counted: { status: ended.status, action: ended.action } };
}

/** failAndRefund in a transaction of its own. */
export function failAndRefundNow(
  db: DB,
  taskId: number,
  expectedQuota: number,
  patch: FailurePatch,
  now: number,
  modelName: string,
  hook?: PayloadOf,
): RefundResult {
  return db.transaction((tx) => {
    const { won, refunded } = failAndRefund(tx, taskId, expectedQuota, patch, now, modelName, hook);
    return { won, refunded };
  });
}
