import type { SQLQueryBindings, Statement } from 'bun:sqlite';
import type { PayloadOf, PollRow, SyncFieldValues, SyncOp, SyncOpResult } from '../../contract/tasks.ts';
import type { DB } from '../client.ts';
import { COUNTED_COLUMNS } from '../listing-design.ts';
import { perConnection } from '../prepared.ts';
import type { DbLike } from '../types.ts';
import { BUTTONS_SQL, compactButtons } from './button-sets.ts';
import { type CountedValues, filterCountBatch } from './filter-deltas.ts';
import { failAndRefund } from './money.ts';
import { enqueueTaskChange } from './outbox.ts';

/**
 * The poller's reads and writes on bun:sqlite (SPEC §8): the unfinished tasks by keyset pages,
 * and a planned batch of updates and endings applied in ONE synchronous transaction. Every ending goes through
 * failAndRefund, whose compare-and-set makes a refund happen exactly once whatever runs twice.
 * What to write is decided by the domain (task-sync.ts); this only applies it.
 */

/**
 * The conditions are written exactly as the partial index `tasks_unfinished_idx` (channel_id, id)
 * is declared, so both reads walk that index and never the table's finished millions: the
 * channels step from one channel id to the next (one index search per channel, not a scan), a
 * page is one index range.
 */
export const UNFINISHED_CHANNELS_SQL = `WITH RECURSIVE ch(id) AS (
    SELECT (SELECT channel_id FROM tasks WHERE progress <> '100%' ORDER BY channel_id LIMIT 1)
    UNION ALL
    SELECT (SELECT channel_id FROM tasks WHERE progress <> '100%' AND channel_id > ch.id ORDER BY channel_id LIMIT 1)
    FROM ch WHERE ch.id IS NOT NULL
  ) SELECT id FROM ch WHERE id IS NOT NULL`;

/** The columns of a PollRow (buttons expanded from their compact form), for every read the sync applies to. */
export const POLL_COLUMNS_SQL = `id, user_id AS userId, channel_id AS channelId, action, mj_id AS mjId,
    submit_time AS submitTime, updated_time AS updatedTime, quota, progress, status, prompt_en AS promptEn, state,
    start_time AS startTime, finish_time AS finishTime, image_url AS imageUrl, video_url AS videoUrl,
    video_urls AS videoUrls, fail_reason AS failReason, ${BUTTONS_SQL} AS buttons, properties`;

export const UNFINISHED_PAGE_SQL = `SELECT ${POLL_COLUMNS_SQL}
  FROM tasks WHERE progress <> '100%' AND channel_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3`;

function unfinishedReads(db: DB) {
  const c = db.$client;
  const channels = c.prepare<{ id: number }, []>(UNFINISHED_CHANNELS_SQL);
  const page = c.prepare<PollRow, [number, number, number]>(UNFINISHED_PAGE_SQL);
  return {
    /** The channel ids that have unfinished tasks, ascending (deleted channels too). */
    channels: (): number[] => channels.all().map((r) => r.id),
    /** One channel's unfinished tasks with an id above `afterId`, by id, at most `limit`. */
    page: (channelId: number, afterId: number, limit: number): PollRow[] => page.all(channelId, afterId, limit),
  };
}

/** The column of each synced field. */
const COLUMN_OF: Readonly<Record<keyof SyncFieldValues, string>> = {
  progress: 'progress',
  status: 'status',
  promptEn: 'prompt_en',
  state: 'state',
  startTime: 'start_time',
  finishTime: 'finish_time',
  imageUrl: 'image_url',
  videoUrl: 'video_url',
  videoUrls: 'video_urls',
  failReason: 'fail_reason',
  buttons: 'buttons',
  properties: 'properties',
};
const FIELDS = Object.keys(COLUMN_OF) as (keyof SyncFieldValues)[];

/** An UPDATE of some synced columns: the statement, and the fields it binds, in order. */
interface ColumnUpdate {
  /** Returns the counted values the row now holds, or null when it was finished already. */
  statement: Statement<CountedValues, SQLQueryBindings[]>;
  fields: readonly (keyof SyncFieldValues)[];
}

/**
 * The statements of a batch, prepared once per database: plain bun:sqlite statements, since a
 * batch runs them per row (a Drizzle prepared query maps its placeholders on every call).
 */
interface BatchStatements {
  /**
   * The UPDATE writing exactly these fields and updated_time, prepared on first use (a poll batch
   * sees a handful of sets: what moves between two answers). Fewer columns written is less to bind,
   * compare and log, and never puts back a value another writer changed meanwhile.
   */
  updateOf(fields: readonly (keyof SyncFieldValues)[] | undefined): ColumnUpdate;
  /** Which of these task ids have a webhook: most batches have none, and then the outbox is not asked. */
  hooked: Statement<{ taskId: number }, [string]>;
}

const batchStatements = perConnection((db: DB): BatchStatements => {
  const c = db.$client;
  const updates = new Map<string, ColumnUpdate>();
  return {
    updateOf(fields) {
      const list = fields ?? FIELDS;
      const key = list.join(',');
      let u = updates.get(key);
      if (!u) {
        const set = list.map((f) => `${COLUMN_OF[f]} = ?`).join(', ');
        u = {
          statement: c.prepare(
            `UPDATE tasks SET ${set}${set ? ', ' : ''}updated_time = ? WHERE id = ? AND progress <> '100%'
             RETURNING ${COUNTED_COLUMNS.join(', ')}`,
          ),
          fields: list,
        };
        updates.set(key, u);
      }
      return u;
    },
    hooked: c.prepare(`SELECT task_id AS taskId FROM task_webhooks WHERE task_id IN (SELECT value FROM json_each(?))`),
  };
});

/**
 * Errors about one row's values (a constraint, a trigger's RAISE, a value too big or of the wrong
 * type), as opposed to the database being busy or broken: only these are worth isolating.
 */
const ROW_ERROR = /^SQLITE_(CONSTRAINT|TOOBIG|MISMATCH|RANGE)/;

export function isRowError(err: unknown): boolean {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && ROW_ERROR.test(code)) return true;
  }
  return false;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
}

/**
 * Apply planned ops in one IMMEDIATE transaction (never onto a row another writer already
 * finished), then queue the webhook deliveries of every row written. Results are in op order.
 * The batch's status moves reach the filter counts summed per key (filter-deltas.ts).
 * When the database refuses one row (SPEC §10: one bad item never spoils the rest of its batch),
 * the batch runs again with each op under its own savepoint: the refused op is rolled back alone
 * and reported as `refused`, the others (and their refunds) are written.
 */
export function applySyncOps(db: DB, given: readonly SyncOp[], now: number, hook: PayloadOf): SyncOpResult[] {
  if (given.length === 0) return [];
  const ops = withCompactButtons(db, given);
  try {
    return runBatch(db, ops, now, hook, false);
  } catch (err) {
    if (!isRowError(err)) throw err;
    return runBatch(db, ops, now, hook, true);
  }
}

/**
 * The ops with `buttons` in the form stored on SQLite (button-sets.ts), worked out before the
 * batch's transaction: a new template is committed (and cached) on its own first.
 */
function withCompactButtons(db: DB, ops: readonly SyncOp[]): readonly SyncOp[] {
  const c = db.$client;
  return ops.map((op): SyncOp => {
    const buttons = op.fields.buttons;
    if (typeof buttons !== 'string') return op;
    const stored = compactButtons(c, buttons);
    if (stored === buttons) return op;
    if (op.kind === 'update') return { ...op, fields: { ...op.fields, buttons: stored } };
    return { ...op, fields: { ...op.fields, buttons: stored } };
  });
}

function runBatch(db: DB, ops: readonly SyncOp[], now: number, hook: PayloadOf, isolate: boolean): SyncOpResult[] {
  const statements = batchStatements(db);
  const { hooked } = statements;
  const counts = filterCountBatch(db);
  const ids = ops.map((op) => op.taskId);
  return db.transaction(
    (tx) =>
      counts.around(
        ids,
        () => {
          const changed: number[] = [];
          const moved = new Map<number, CountedValues>();
          const one = (t: DbLike, op: SyncOp): SyncOpResult & { counted?: CountedValues | null } => {
            if (op.kind === 'fail') return failAndRefund(t, op.taskId, op.expectedQuota, op.fields, now, op.modelName);
            // On the transaction's own connection, so inside its savepoint when isolated.
            const u = statements.updateOf(op.columns);
            const values: SQLQueryBindings[] = u.fields.map((f) => op.fields[f]);
            values.push(now, op.taskId);
            const counted = u.statement.get(...values);
            return { won: counted !== null, refunded: 0, counted };
          };
          const results = ops.map((op): SyncOpResult => {
            let r: ReturnType<typeof one>;
            if (!isolate) r = one(tx, op);
            else {
              try {
                r = tx.transaction((sp) => one(sp, op));
              } catch (err) {
                if (!isRowError(err)) throw err;
                return { won: false, refunded: 0, refused: messageOf(err) };
              }
            }
            if (r.won) changed.push(op.taskId);
            if (r.won && r.counted) moved.set(op.taskId, r.counted);
            return { won: r.won, refunded: r.refunded };
          });
          if (changed.length > 0) {
            const withHook = hooked.all(JSON.stringify(changed)).map((h) => h.taskId);
            enqueueTaskChange(tx, withHook, now, hook);
          }
          return { results, moved };
        },
        (done) => done.moved,
      ).results,
    { behavior: 'immediate' },
  );
}

/** The task store's `sync` member on SQLite (also what a poller test passes on its own handle). */
export function createSqliteSyncStore(db: DB) {
  const reads = unfinishedReads(db);
  return {
    unfinishedChannels: async () => reads.channels(),
    unfinishedPage: async (channelId: number, afterId: number, limit: number) => reads.page(channelId, afterId, limit),
    apply: async (ops: readonly SyncOp[], now: number, hook: PayloadOf) => applySyncOps(db, ops, now, hook),
  };
}
