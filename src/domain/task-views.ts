import { z } from 'zod';
import { pageSchema } from './pagination.ts';

/**
 * What the management API answers with for tasks (SPEC §6.1/§6.2): the tRPC outputs and the
 * OpenAPI document are both generated from these.
 */

const taskItemShape = {
  id: z.number().int(),
  mj_id: z.string().meta({ description: 'The upstream task id' }),
  action: z.string(),
  prompt: z.string(),
  prompt_en: z.string(),
  status: z.string().meta({ description: '"", NOT_START, SUBMITTED, IN_PROGRESS, SUCCESS, FAILURE or MODAL' }),
  progress: z.string().meta({ description: 'e.g. "0%" … "100%"' }),
  image_url: z
    .string()
    .meta({ description: 'The gateway link /mj/image/<mj_id> when mj_forward_url_enabled is on; "" when none' }),
  video_url: z.string(),
  video_urls: z.string().meta({ description: 'A JSON array of URL strings, as a string ("" when none)' }),
  submit_time: z.number().int().meta({ description: 'Unix time in ms' }),
  start_time: z.number().int(),
  finish_time: z.number().int(),
  fail_reason: z.string(),
  quota: z.number().int(),
  code: z.number().int(),
  description: z.string(),
  state: z.string(),
  buttons: z.string().meta({ description: 'The upstream buttons as a JSON string ("" when none)' }),
  properties: z.string().meta({ description: 'The upstream properties as a JSON string ("" when none)' }),
};

/** One task of `GET /api/mj/self` (REST: `buttons` and `properties` as JSON strings). */
export const taskItemSchema = z.object(taskItemShape);

const { id, ...restOfItem } = taskItemShape;
const ownerShape = { user_id: z.number().int(), channel_id: z.number().int() };
/** One task of `GET /api/mj/`: with its owner and channel. */
export const adminTaskItemSchema = z.object({ id, ...ownerShape, ...restOfItem });

/** The REST pages (SPEC §6.1/§6.2), behind /openapi.json. */
export const taskPageSchema = pageSchema(taskItemSchema);
export const adminTaskPageSchema = pageSchema(adminTaskItemSchema);

/**
 * One upstream button, as the typed outputs carry it: every field present (`""` / `0` when the
 * upstream left it out), so clients need no checks; other upstream keys are dropped.
 */
export const taskButtonSchema = z.object({
  customId: z
    .string()
    .meta({ description: 'What to send as `customId` to submit this follow-up (mj.submit kind "action")' }),
  emoji: z.string(),
  label: z.string(),
  type: z.number(),
  style: z.number(),
});

const parsedShape = {
  buttons: z.array(taskButtonSchema).meta({ description: 'The upstream buttons ([] when none)' }),
  properties: z.record(z.string(), z.unknown()).meta({ description: 'The upstream properties ({} when none)' }),
};

/**
 * The items of the typed outputs (tRPC `mj.self`, `mj.all`, `mj.get`, `mj.submit`,
 * `mj.onTaskUpdate`): the REST item with `buttons` an array and `properties` an object.
 */
export const typedTaskItemSchema = z.object({ ...taskItemShape, ...parsedShape });
export const typedAdminTaskItemSchema = z.object({ id, ...ownerShape, ...restOfItem, ...parsedShape });
export const typedTaskPageSchema = pageSchema(typedTaskItemSchema);
export const typedAdminTaskPageSchema = pageSchema(typedAdminTaskItemSchema);

export type TaskButton = z.infer<typeof taskButtonSchema>;
export type TypedTaskItem = z.infer<typeof typedTaskItemSchema>;
export type TypedAdminTaskItem = z.infer<typeof typedAdminTaskItemSchema>;
