import { z } from 'zod';
import type { ManagementStore } from '../contract/index.ts';
import { intParam, listPage, type Page, pageQuerySchema } from './pagination.ts';

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
export async function listLogs(store: Pick<ManagementStore, 'logs'>, q: LogListQuery): Promise<Page<LogItem>> {
  return listPage(
    q,
    (limit, offset) => store.logs.list({ type: q.type, userId: q.user_id }, limit, offset),
    (r) => ({
      id: r.id,
      user_id: r.userId,
      type: r.type,
      content: r.content,
      quota: r.quota,
      model_name: r.modelName,
      channel_id: r.channelId,
      token_id: r.tokenId,
      mj_id: r.mjId,
      task_id: r.taskId,
      created_time: r.createdTime,
    }),
  );
}
