import type { PgDB } from './client.ts';

/** Live counts for operators (the metrics scrape), with the semantics of src/db/sqlite/operator-stats.ts. */
export function pgOperatorStats(db: PgDB) {
  const sql = db.$client;
  return {
    /** Written as the partial index `tasks_unfinished_idx` is declared, so only unfinished entries are read. */
    async unfinishedByChannel(): Promise<Array<{ channelId: number; count: number }>> {
      return sql<Array<{ channelId: number; count: number }>>`
        SELECT channel_id AS "channelId", count(*)::int AS count FROM tasks WHERE progress <> '100%'
        GROUP BY channel_id ORDER BY channel_id`;
    },
  };
}
