import { z } from 'zod';

/**
 * Answers of the relay (SPEC §7), in the midjourney-proxy shape, as zod schemas: the OpenAPI
 * document is generated from them and the tests parse real answers with them.
 */

/** `GET /mj/task/:id/fetch` and each item of `list-by-condition`. */
export const relayTaskViewSchema = z.object({
  id: z.string().meta({ description: 'The upstream task id (mj_id)' }),
  action: z.string(),
  prompt: z.string(),
  promptEn: z.string(),
  description: z.string(),
  state: z.string(),
  submitTime: z.number().int().meta({ description: 'Unix time in ms' }),
  startTime: z.number().int(),
  finishTime: z.number().int(),
  imageUrl: z
    .string()
    .meta({ description: 'Gateway link while mj_forward_url_enabled is on, with ?rand=<now> until SUCCESS' }),
  videoUrl: z.string(),
  videoUrls: z.array(z.object({ url: z.string() })).nullable(),
  status: z.string(),
  progress: z.string().meta({ description: 'Never empty: "0%" until the upstream says more' }),
  failReason: z.string(),
  buttons: z.array(z.unknown()).nullable(),
  properties: z.record(z.string(), z.unknown()).nullable(),
});

/** A task as midjourney-proxy's `fetch` shows it. */
export type RelayTaskView = z.infer<typeof relayTaskViewSchema>;

export const relayTaskListSchema = z.array(relayTaskViewSchema);

/**
 * A submit answer (SubmitResultVO): the upstream body re-serialised, `properties` always an
 * object; `result` is the new task id (an array of URLs for upload-discord-images).
 */
export const submitAnswerSchema = z.looseObject({
  code: z
    .number()
    .int()
    .meta({ description: '1 accepted (21/22 read as 1, 21 kept for INPAINT/CUSTOM_ZOOM); anything else refused' }),
  description: z.string().optional(),
  result: z.union([z.string(), z.array(z.string()), z.null()]).optional(),
  properties: z.record(z.string(), z.unknown()),
});

/** A refusal of the gateway itself: 3 no channel, 4 bad request or not found, 5 upstream trouble. */
export const relayErrorSchema = z.object({
  code: z.number().int(),
  description: z.string(),
  result: z.null(),
  properties: z.record(z.string(), z.unknown()),
});

/** Key failures (SPEC §5.2), OpenAI style. */
export const relayAuthErrorSchema = z.object({
  error: z.object({
    message: z.string(),
    type: z.literal('mj_gateway_error'),
    code: z.string().meta({
      description: 'missing_api_key, invalid_api_key, token_disabled, token_expired, token_exhausted or user_banned',
    }),
  }),
});

/** `GET /mj/task/:id/image-seed`: the upstream answer passed through; `result` holds the seed. */
export const imageSeedAnswerSchema = z.looseObject({
  code: z.number().int(),
  description: z.string().optional(),
  result: z.union([z.string(), z.null()]).optional(),
});

/** Errors of `GET /mj/image/:id`. */
export const imageErrorSchema = z.object({
  error: z.string(),
  /** A sentence for people where the code alone says too little (a 400 names the allowed values). */
  message: z.string().optional(),
});
