import { sql } from 'drizzle-orm';
import type { DB } from '../client.ts';
import { tasks } from '../schema/index.ts';

/** Live counts for operators (the metrics scrape). */
export function sqliteOperatorStats(db: DB) {
  // Written exactly as the partial index `tasks_unfinished_idx` (channel_id, id) is declared, so the
  // count reads only the unfinished entries of that index, never the finished millions.
  const unfinished = db
    .select({ channelId: tasks.channelId, count: sql<number>`count(*)` })
    .from(tasks)
    .where(sql`progress <> '100%'`)
    .groupBy(tasks.channelId)
    .prepare();
  return {
    async unfinishedByChannel(): Promise<Array<{ channelId: number; count: number }>> {
      return unfinished.all();
    },
  };
}
