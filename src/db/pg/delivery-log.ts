import type { DeliveryListRow } from '../../contract/management.ts';
import type { PgDB } from './client.ts';

/** Never the payload: it may be large. */
const LIST_COLUMNS = `id, task_id AS "taskId", mj_id AS "mjId", user_id AS "userId", url, status, attempts,
  last_error AS "lastError", next_attempt_at AS "nextAttemptAt", created_time AS "createdTime", delivered_time AS "deliveredTime"`;

/** The webhook delivery list on PostgreSQL, with the semantics of src/db/sqlite/delivery-log.ts. */
export function pgDeliveryLog(db: PgDB) {
  const sql = db.$client;
  const cols = () => sql.unsafe(LIST_COLUMNS);
  return {
    async list(
      userId: number | null,
      limit: number,
      offset: number,
    ): Promise<{ rows: DeliveryListRow[]; total: number }> {
      const [rows, [count]] =
        userId === null
          ? await Promise.all([
              sql<
                DeliveryListRow[]
              >`SELECT ${cols()} FROM webhook_deliveries ORDER BY id DESC LIMIT ${limit}::int OFFSET ${offset}::bigint`,
              sql<Array<{ n: number }>>`SELECT count(*)::int AS n FROM webhook_deliveries`,
            ])
          : await Promise.all([
              sql<DeliveryListRow[]>`SELECT ${cols()} FROM webhook_deliveries WHERE user_id = ${userId}::bigint
            ORDER BY id DESC LIMIT ${limit}::int OFFSET ${offset}::bigint`,
              sql<
                Array<{ n: number }>
              >`SELECT count(*)::int AS n FROM webhook_deliveries WHERE user_id = ${userId}::bigint`,
            ]);
      return { rows, total: count?.n ?? 0 };
    },
  };
}
