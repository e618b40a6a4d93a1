import { sql } from 'drizzle-orm';
import type { DB } from '../db/client.ts';
import { tasks } from '../db/schema/index.ts';

/** Live counts for operators (the metrics scrape). */

function buildUnfinished(db: DB) {
  // Written exactly as the partial index `tasks_unfinished_idx` (channel_id, id) is declared, so the
  // count reads only the unfinished entries of that index, never the finished millions.
  return db.select({ channelId: tasks.channelId, count: sql<number>`count(*)` }).from(tasks)
    .where(sql`progress <> '100%'`).groupBy(tasks.channelId).prepare();
}

const statements = new WeakMap<DB, ReturnType<typeof buildUnfinished>>();

/** Unfinished tasks (progress not `100%`) per channel id. */
export function countUnfinishedByChannel(db: DB): Array<{ channelId: number; count: number }> {
  let s = statements.get(db);
  if (!s) statements.set(db, (s = buildUnfinished(db)));
  return s.all();
}
