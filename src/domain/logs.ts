import { and, count, desc, eq, type SQL } from 'drizzle-orm';
import { z } from 'zod';
import type { DB } from '../db/client.ts';
import { logs } from '../db/schema/index.ts';
import { intParam, pageOf, pageQuerySchema, type Page } from './pagination.ts';

export const logListQuerySchema = z.object({
  ...pageQuerySchema.shape,
  type: intParam('type', 1, 'a positive integer'),
  user_id: intParam('user_id', 1, 'a positive integer'),
});
export type LogListQuery = z.infer<typeof logListQuerySchema>;

export interface LogItem {
  id: number;
  user_id: number;
  type: number;
  content: string;
  quota: number;
  model_name: string;
  channel_id: number;
  token_id: number;
  mj_id: string;
  /** The local task id; 0 for rows about no task. */
  task_id: number;
  created_time: number;
}

/** Billing and system log, newest first. */
export function listLogs(db: DB, q: LogListQuery): Page<LogItem> {
  const { page, pageSize, offset } = pageOf(q);
  const parts: SQL[] = [];
  if (q.type !== undefined) parts.push(eq(logs.type, q.type));
  if (q.user_id !== undefined) parts.push(eq(logs.userId, q.user_id));
  const where = parts.length ? and(...parts) : undefined;
  const rows = db.select().from(logs).where(where).orderBy(desc(logs.id)).limit(pageSize).offset(offset).all();
  const total = db.select({ n: count() }).from(logs).where(where).get()?.n ?? 0;
  return {
    items: rows.map((r) => ({
      id: r.id, user_id: r.userId, type: r.type, content: r.content, quota: r.quota, model_name: r.modelName,
      channel_id: r.channelId, token_id: r.tokenId, mj_id: r.mjId, task_id: r.taskId, created_time: r.createdTime,
    })),
    total, page, page_size: pageSize,
  };
}
