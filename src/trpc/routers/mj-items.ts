import { z } from 'zod';
import { ROLE, type TaskRow } from '../../db/schema/index.ts';
import { adminTaskItem, taskItem, type ImageLinkPolicy } from '../../domain/tasks.ts';
import type { AppDeps } from '../../deps.ts';

/** The task item shapes of SPEC §6.1/§6.2, shared by the listings, `mj.get`, `mj.submit` and the live feed. */
const taskItemShape = {
  id: z.number(), mj_id: z.string(), action: z.string(), prompt: z.string(), prompt_en: z.string(),
  status: z.string(), progress: z.string(), image_url: z.string(), video_url: z.string(), video_urls: z.string(),
  submit_time: z.number(), start_time: z.number(), finish_time: z.number(), fail_reason: z.string(),
  quota: z.number(), code: z.number(), description: z.string(), state: z.string(), buttons: z.string(),
  properties: z.string(),
};
export const taskItemSchema = z.object(taskItemShape);
const { id, ...restOfItem } = taskItemShape;
export const adminTaskItemSchema = z.object({ id, user_id: z.number(), channel_id: z.number(), ...restOfItem });

export const pageOf = <T extends z.ZodType>(item: T) =>
  z.object({ items: z.array(item), total: z.number(), page: z.number(), page_size: z.number() });

export function policyOf(deps: AppDeps): ImageLinkPolicy {
  return { forward: deps.options.get('mj_forward_url_enabled'), serverAddress: deps.serverAddress() };
}

/** A row as the caller's listing shows it: `mj.all`'s item for admins, `mj.self`'s for users. */
export function itemFor(deps: AppDeps, role: number, row: TaskRow) {
  const policy = policyOf(deps);
  return role >= ROLE.admin ? adminTaskItem(row, policy) : taskItem(row, policy);
}
