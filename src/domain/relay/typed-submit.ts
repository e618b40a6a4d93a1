import { z } from 'zod';
import { TOKEN_STATUS } from '../../contract/constants.ts';
import type { TaskRow, TokenRow } from '../../contract/rows.ts';
import { AppError } from '../errors.ts';
import type { SubmitRequest, SubmitRequestOf } from './request.ts';
import {
  blendSchema,
  describeSchema,
  editsSchema,
  imagineSchema,
  modalSchema,
  SUBMIT_PATHS,
  type SubmitBody,
  type SubmitKind,
  swapSchema,
  uploadSchema,
} from './schemas.ts';
import { submitTask } from './submit.ts';
import type { RelayCallerInfo, RelayEnv } from './types.ts';

/**
 * Typed submits (SPEC §14, tRPC `mj.submit`): one discriminated union on `action` for every
 * relay submit kind of §7.1, turned straight into the domain's typed request and run by the same
 * flow as the relay (`submitTask`: the cross-field rules, price, guarded charge, channel choice,
 * follow-up routing and refunds), billed to one of the caller's API keys.
 */

const tokenId = z.number().int().positive().optional();
const taskId = z.string().trim().min(1, 'task_id is required').max(128, 'task_id is longer than 128 characters');
const prompt = z.string().trim().min(1, 'prompt is required').max(8192, 'prompt is longer than 8192 characters');

export const typedSubmitSchema = z.discriminatedUnion('action', [
  z.object({ action: z.literal('IMAGINE'), prompt, base64Array: imagineSchema.shape.base64Array, token_id: tokenId }),
  z.object({
    action: z.literal('ACTION'),
    task_id: taskId,
    custom_id: z.string().trim().min(1, 'custom_id is required').max(512),
    token_id: tokenId,
  }),
  z.object({
    action: z.literal('CHANGE'),
    task_id: taskId,
    change: z.enum(['UPSCALE', 'VARIATION', 'REROLL']),
    index: z.number().int().min(1).max(4).optional(),
    token_id: tokenId,
  }),
  z.object({
    action: z.literal('SIMPLE_CHANGE'),
    content: z.string().trim().min(1, 'content is required').max(136),
    token_id: tokenId,
  }),
  z.object({
    action: z.literal('DESCRIBE'),
    base64: describeSchema.shape.base64,
    link: describeSchema.shape.link,
    token_id: tokenId,
  }),
  z.object({
    action: z.literal('BLEND'),
    base64Array: blendSchema.shape.base64Array,
    dimensions: blendSchema.shape.dimensions,
    token_id: tokenId,
  }),
  z.object({
    action: z.literal('MODAL'),
    task_id: taskId,
    prompt: modalSchema.shape.prompt,
    maskBase64: modalSchema.shape.maskBase64,
    token_id: tokenId,
  }),
  z.object({ action: z.literal('SHORTEN'), prompt, token_id: tokenId }),
  z.object({ action: z.literal('VIDEO'), prompt, task_id: taskId.optional(), token_id: tokenId }),
  z.object({ action: z.literal('EDITS'), prompt, image: editsSchema.shape.image, token_id: tokenId }),
  z.object({ action: z.literal('UPLOAD'), base64Array: uploadSchema.shape.base64Array, token_id: tokenId }),
  z.object({
    action: z.literal('SWAP_FACE'),
    sourceBase64: swapSchema.shape.sourceBase64,
    sourceUrl: swapSchema.shape.sourceUrl,
    targetBase64: swapSchema.shape.targetBase64,
    targetUrl: swapSchema.shape.targetUrl,
    token_id: tokenId,
  }),
]);

export type TypedSubmit = z.infer<typeof typedSubmitSchema>;

/** The object without its undefined fields (absent fields are not forwarded as keys). */
function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/**
 * The typed request of a typed submit: its kind, the relay path it would have come on, and its
 * fields (in the relay's names), which are also the body forwarded upstream.
 */
export function typedRequestOf(input: TypedSubmit): SubmitRequest {
  const of = <K extends SubmitKind>(kind: K, fields: SubmitBody<K>): SubmitRequestOf<K> => ({
    kind,
    path: SUBMIT_PATHS[kind],
    fields,
    forward: fields,
  });
  switch (input.action) {
    case 'IMAGINE':
      return of('imagine', defined({ prompt: input.prompt, base64Array: input.base64Array }));
    case 'ACTION':
      return of('action', { taskId: input.task_id, customId: input.custom_id });
    case 'CHANGE':
      return of('change', defined({ taskId: input.task_id, action: input.change, index: input.index }));
    case 'SIMPLE_CHANGE':
      return of('simple-change', { content: input.content });
    case 'DESCRIBE':
      return of('describe', defined({ base64: input.base64, link: input.link }));
    case 'BLEND':
      return of('blend', defined({ base64Array: input.base64Array, dimensions: input.dimensions }));
    case 'MODAL':
      return of('modal', defined({ taskId: input.task_id, prompt: input.prompt, maskBase64: input.maskBase64 }));
    case 'SHORTEN':
      return of('shorten', { prompt: input.prompt });
    case 'VIDEO':
      return of('video', defined({ prompt: input.prompt, taskId: input.task_id }));
    case 'EDITS':
      return of('edits', { prompt: input.prompt, image: input.image });
    case 'UPLOAD':
      return of('upload', { base64Array: input.base64Array });
    case 'SWAP_FACE': {
      const { action: _action, token_id: _tokenId, ...images } = input;
      return of('swap', defined(images));
    }
  }
}

/**
 * The API key a typed submit bills: `tokenId` when given (the caller's own and usable), else the
 * caller's newest usable key. None → BAD_REQUEST `no_api_key`.
 */
export async function billingKeyOf(env: RelayEnv, userId: number, tokenId: number | undefined): Promise<TokenRow> {
  const now = env.clock.now();
  if (tokenId !== undefined) {
    const row = await env.store.tokens.update(userId, tokenId, {}); // an empty patch reads the user's key
    if (!row) throw new AppError('NOT_FOUND', `token ${tokenId} not found`, 'token_not_found');
    if (row.status === TOKEN_STATUS.disabled) throw new AppError('BAD_REQUEST', 'token_disabled', 'token_disabled');
    if (row.status === TOKEN_STATUS.expired || (row.expiredTime !== -1 && row.expiredTime <= now)) {
      throw new AppError('BAD_REQUEST', 'token_expired', 'token_expired');
    }
    if (row.status !== TOKEN_STATUS.enabled || (!row.unlimitedQuota && row.remainQuota <= 0)) {
      throw new AppError('BAD_REQUEST', 'token_exhausted', 'token_exhausted');
    }
    return row;
  }
  const row = await env.store.tokens.newestUsable(userId, now);
  if (!row) throw new AppError('BAD_REQUEST', 'no_api_key', 'no_api_key');
  return row;
}

/** Upstream codes of a refusal, read as the error a typed caller should see. */
function refusalError(code: number, description: string, status: number): AppError {
  const message = description || `upstream refused the job (code ${code}, HTTP ${status})`;
  if (code === 24) return new AppError('BAD_REQUEST', message, 'banned_prompt');
  if (code === 3 || code === 23) return new AppError('UNAVAILABLE', message, 'upstream_unavailable');
  if (code === 4) return new AppError('BAD_REQUEST', message, 'upstream_bad_request');
  return new AppError('UPSTREAM', message, 'upstream_refused');
}

/**
 * Run a typed submit through the domain's submit flow; returns the local task id, and the task row
 * when the flow has it (its settle won). Local refusals (quota, parent, channel, validation) are the
 * relay's AppErrors; an upstream refusal (the task is then recorded as FAILURE and refunded)
 * becomes an AppError carrying the upstream description.
 */
export async function submitTyped(
  env: RelayEnv,
  userId: number,
  input: TypedSubmit,
  requestId: string,
): Promise<{ taskId: number; task?: TaskRow }> {
  const key = await billingKeyOf(env, userId, input.token_id);
  const caller: RelayCallerInfo = {
    userId,
    tokenId: key.id,
    unlimitedToken: key.unlimitedQuota,
    rateLimitPerMinute: key.rateLimitPerMinute,
  };
  const req = typedRequestOf(input);
  const answer = await submitTask(env, caller, { kind: req.kind, requestId, read: () => req });
  if (!answer.accepted) throw refusalError(answer.code, answer.description, answer.status);
  return { taskId: answer.taskId, task: answer.task };
}
