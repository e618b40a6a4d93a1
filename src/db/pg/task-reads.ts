import { getTableColumns } from 'drizzle-orm';
import type { TaskFeedReads } from '../../contract/feed.ts';
import type { TaskRow } from '../../contract/rows.ts';
import { itemBytesAtLeastSql, TEXT_LENGTHS_SQL } from '../../lib/item-size-sql.ts';
import { TASK_TEXT_BOUNDS } from '../../lib/text-bounds.ts';
import type { PgDB } from './client.ts';
import { TASK_FINGERPRINT_SQL, takeNotedFingerprints } from './notify.ts';
import { tasks } from './schema/tasks.ts';

/**
 * The task reads of the PostgreSQL TaskStore, with the semantics of src/db/sqlite/listing.ts
 * (by mj_id, own by mj_ids, the image read), src/db/sqlite/sync.ts (the unfinished tasks) and the
 * task feed's reads (fingerprint, row, replay). Rows come back named as TaskRow, aliased in SQL.
 */

/**
 * Every column of `tasks` named by its TaskRow key. `cut`: each text cut to one character past its
 * bound (PostgreSQL's `left` counts characters, as SQLite's `substr` does), so the item mapping
 * still sees that a value was too long.
 */
function columnsSql(cut: boolean): string {
  return Object.entries(getTableColumns(tasks))
    .map(([key, column]) => {
      const max = TASK_TEXT_BOUNDS[column.name];
      const value = cut && max !== undefined ? `left(${column.name}, ${max + 1})` : column.name;
      return `${value} AS "${key}"`;
    })
    .join(', ');
}

export const PG_TASK_COLUMNS_SQL = columnsSql(false);
export const PG_BOUNDED_TASK_COLUMNS_SQL = columnsSql(true);

/** One task by its local id, as stored. */
export async function taskByIdPg(db: PgDB, id: number): Promise<TaskRow | null> {
  const sql = db.$client;
  const [row] = await sql<TaskRow[]>`SELECT ${sql.unsafe(PG_TASK_COLUMNS_SQL)} FROM tasks WHERE id = ${id}::int`;
  return row ?? null;
}

/** The newest task with this upstream id, of one user (or of anyone when userId is null). */
export async function findTaskByMjIdPg(db: PgDB, mjId: string, userId: number | null): Promise<TaskRow | null> {
  const sql = db.$client;
  // Two fixed texts, so each keeps its own index plan (mj_id, or user_id + mj_id).
  const [row] =
    userId === null
      ? await sql<
          TaskRow[]
        >`SELECT ${sql.unsafe(PG_TASK_COLUMNS_SQL)} FROM tasks WHERE mj_id = ${mjId}::text ORDER BY id DESC LIMIT 1`
      : await sql<TaskRow[]>`SELECT ${sql.unsafe(PG_TASK_COLUMNS_SQL)} FROM tasks
        WHERE user_id = ${userId}::int AND mj_id = ${mjId}::text ORDER BY id DESC LIMIT 1`;
  return row ?? null;
}

/** A user's tasks among these upstream ids, oldest first, long text cut; the caller bounds the list. */
export async function ownTasksByMjIdsPg(db: PgDB, userId: number, mjIds: readonly string[]): Promise<TaskRow[]> {
  if (mjIds.length === 0) return [];
  const sql = db.$client;
  return [
    ...(await sql<TaskRow[]>`SELECT ${sql.unsafe(PG_BOUNDED_TASK_COLUMNS_SQL)} FROM tasks
    WHERE user_id = ${userId}::int AND mj_id = ANY(${[...mjIds]}::text[]) ORDER BY id ASC`),
  ];
}

/** Status and stored image link of the newest task with this upstream id (any user). */
export async function imageTaskPg(db: PgDB, mjId: string): Promise<{ status: string; imageUrl: string } | null> {
  const [row] = await db.$client<Array<{ status: string; imageUrl: string }>>`
    SELECT status, image_url AS "imageUrl" FROM tasks WHERE mj_id = ${mjId}::text ORDER BY id DESC LIMIT 1`;
  return row ?? null;
}

/** A task's change fingerprint: what a subscriber would see move (the SQLite feed's text, byte for byte). */
export interface PgTaskFingerprint {
  id: number;
  user_id: number;
  fp: string;
}

/**
 * The task feed's reads on PostgreSQL (src/db/sqlite/feed-reads.ts). Asynchronous, unlike
 * SQLite's: a publish reading fingerprints must await them (see the report on the feed).
 */
export function createPgFeedReads(db: PgDB) {
  const sql = db.$client;
  const readFingerprints = async (ids: readonly number[]): Promise<PgTaskFingerprint[]> => {
    // One id (every submit's change) by equality: for `= ANY($1)` the planner prefers a custom
    // plan each call (its generic plan assumes ten ids), planning again for every publish.
    if (ids.length === 1)
      return [
        ...(await sql<
          PgTaskFingerprint[]
        >`SELECT id, user_id, ${sql.unsafe(TASK_FINGERPRINT_SQL)} AS fp FROM tasks WHERE id = ${ids[0]!}::int`),
      ];
    return [
      ...(await sql<
        PgTaskFingerprint[]
      >`SELECT id, user_id, ${sql.unsafe(TASK_FINGERPRINT_SQL)} AS fp FROM tasks WHERE id = ANY(${[...ids]}::int[]) ORDER BY id`),
    ];
  };
  return {
    async fingerprints(taskIds: readonly number[]): Promise<PgTaskFingerprint[]> {
      // A writer's own notification carries its fingerprint (notify.ts): no read for that id.
      // Taken before any await: the notification's callback is still running.
      const { known, missing } = takeNotedFingerprints(db, [...new Set(taskIds)]);
      if (missing.length === 0) return known;
      const read = await readFingerprints(missing);
      return known.length === 0 ? read : [...known, ...read].sort((a, b) => a.id - b.id);
    },
    row: (id: number) => taskByIdPg(db, id),
    /** How many rows `replay` would return (at most `limit`) and the fewest bytes their items take (see the SQLite twin). */
    async replaySize(userId, windowStart, since, limit, itemCap, maxBytes) {
      const n = Math.max(0, Math.floor(limit));
      const size = sql.unsafe(itemBytesAtLeastSql(Math.floor(itemCap)));
      const lengths = sql.unsafe(TEXT_LENGTHS_SQL);
      // Rows submitted since are surely in the replay: when they alone pass a bound, stop there.
      const from = Math.max(windowStart, since);
      const [sure] =
        userId === null
          ? await sql<
              Array<{ n: number; bytes: string }>
            >`SELECT count(*)::int AS n, coalesce(sum(${size}), 0)::text AS bytes FROM (SELECT ${lengths} FROM tasks
            WHERE submit_time >= ${from}::bigint ORDER BY submit_time DESC LIMIT ${n}::int) s`
          : await sql<
              Array<{ n: number; bytes: string }>
            >`SELECT count(*)::int AS n, coalesce(sum(${size}), 0)::text AS bytes FROM (SELECT ${lengths} FROM tasks
            WHERE user_id = ${userId}::int AND submit_time >= ${from}::bigint ORDER BY submit_time DESC LIMIT ${n}::int) s`;
      if (sure && (sure.n >= n || Number(sure.bytes) > maxBytes)) return { count: sure.n, bytes: Number(sure.bytes) };
      const [r] =
        userId === null
          ? await sql<
              Array<{ n: number; bytes: string }>
            >`SELECT count(*)::int AS n, coalesce(sum(${size}), 0)::text AS bytes FROM (SELECT ${lengths} FROM tasks
            WHERE submit_time >= ${windowStart}::bigint AND updated_time >= ${since}::bigint
            ORDER BY updated_time DESC, id DESC LIMIT ${n}::int) s`
          : await sql<
              Array<{ n: number; bytes: string }>
            >`SELECT count(*)::int AS n, coalesce(sum(${size}), 0)::text AS bytes FROM (SELECT ${lengths} FROM tasks
            WHERE user_id = ${userId}::int AND submit_time >= ${windowStart}::bigint AND updated_time >= ${since}::bigint
            ORDER BY updated_time DESC, id DESC LIMIT ${n}::int) s`;
      return { count: r?.n ?? 0, bytes: Number(r?.bytes ?? 0) };
    },
    /** Tasks submitted at or after `windowStart` and updated at or after `since`, newest change first, at most `limit`. */
    async replay(userId: number | null, windowStart: number, since: number, limit: number): Promise<TaskRow[]> {
      const n = Math.max(0, Math.floor(limit));
      const rows =
        userId === null
          ? await sql<TaskRow[]>`SELECT ${sql.unsafe(PG_TASK_COLUMNS_SQL)} FROM tasks
            WHERE submit_time >= ${windowStart}::bigint AND updated_time >= ${since}::bigint
            ORDER BY updated_time DESC, id DESC LIMIT ${n}::int`
          : await sql<TaskRow[]>`SELECT ${sql.unsafe(PG_TASK_COLUMNS_SQL)} FROM tasks
            WHERE user_id = ${userId}::int AND submit_time >= ${windowStart}::bigint AND updated_time >= ${since}::bigint
            ORDER BY updated_time DESC, id DESC LIMIT ${n}::int`;
      return [...rows];
    },
  } satisfies TaskFeedReads;
}
