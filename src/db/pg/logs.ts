import type { PendingQuery, Row, Sql } from 'postgres';
import type { LogFilter } from '../../contract/management.ts';
import type { LogRow } from '../../contract/rows.ts';
import type { PgDB } from './client.ts';

const LOG_COLUMNS = `id, user_id AS "userId", type, content, quota, model_name AS "modelName", channel_id AS "channelId",
  token_id AS "tokenId", mj_id AS "mjId", task_id AS "taskId", created_time AS "createdTime"`;

/** One fixed SQL text per filter shape (so each is prepared once), never `$1 IS NULL OR ...`, which hides the index. */
function whereOf(sql: Sql, f: LogFilter): PendingQuery<Row[]> {
  const parts: Array<PendingQuery<Row[]>> = [];
  if (f.type !== undefined) parts.push(sql`type = ${f.type}::bigint`);
  if (f.userId !== undefined) parts.push(sql`user_id = ${f.userId}::bigint`);
  if (parts.length === 0) return sql`TRUE`;
  return parts.reduce((acc, p) => sql`${acc} AND ${p}`);
}

/** The log listing on PostgreSQL, with the semantics of src/db/sqlite/logs.ts. */
export function pgLogs(db: PgDB) {
  const sql = db.$client;
  return {
    async list(filter: LogFilter, limit: number, offset: number): Promise<{ rows: LogRow[]; total: number }> {
      const [rows, [count]] = await Promise.all([
        sql<LogRow[]>`SELECT ${sql.unsafe(LOG_COLUMNS)} FROM logs WHERE ${whereOf(sql, filter)}
          ORDER BY id DESC LIMIT ${limit}::int OFFSET ${offset}::bigint`,
        sql<Array<{ n: number }>>`SELECT count(*)::int AS n FROM logs WHERE ${whereOf(sql, filter)}`,
      ]);
      return { rows, total: count?.n ?? 0 };
    },
  };
}
