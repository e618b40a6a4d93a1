import { z } from 'zod';
import { TASK_ACTIONS, TASK_STATUS_FILTERS } from '../lib/task-values.ts';
import { intParam, queryIntParam } from './pagination.ts';

/** Below this a timestamp is taken as seconds (SPEC §6.1). */
const SECONDS_LIMIT = 100_000_000_000;

export function toMillis(ts: number): number {
  return ts < SECONDS_LIMIT ? ts * 1000 : ts;
}

/** Exact task id, as text or a number; an empty string counts as absent. */
const mjIdParam = z
  .union([z.string(), z.number()], { error: 'mj_id must be a string' })
  .transform((v) => (v === '' ? undefined : String(v)))
  .pipe(z.string().trim().max(64, { error: 'mj_id is too long' }).optional())
  .optional();

export { TASK_STATUS_FILTERS };

/** An exact value from `values`; an empty string counts as absent; anything else is a 400 naming it. */
function oneOf<const T extends readonly [string, ...string[]]>(name: string, values: T) {
  const message = `${name} must be one of ${values.join(', ')}`;
  return z
    .enum([...values, ''], { error: message })
    .transform((v) => (v === '' ? undefined : (v as T[number])))
    .optional();
}

/** The listing parameters, built with `int` for their whole numbers (typed or read from text). */
function listParams<S>(int: (name: string, min: number, what: string) => S) {
  return {
    p: int('p', 1, 'a positive integer'),
    page_size: int('page_size', 1, 'a positive integer'),
    mj_id: mjIdParam,
    start_timestamp: int('start_timestamp', 0, 'a non-negative integer'),
    end_timestamp: int('end_timestamp', 0, 'a non-negative integer'),
    status: oneOf('status', TASK_STATUS_FILTERS),
    action: oneOf('action', TASK_ACTIONS),
  };
}

/** The listing parameters of the all-tasks view: the user's plus `channel_id`. */
function allListParams<S>(int: (name: string, min: number, what: string) => S) {
  return { ...listParams(int), channel_id: int('channel_id', 0, 'a non-negative integer') };
}

function checkRange(
  q: { start_timestamp?: number | undefined; end_timestamp?: number | undefined },
  ctx: z.RefinementCtx,
) {
  if (
    q.start_timestamp !== undefined &&
    q.end_timestamp !== undefined &&
    toMillis(q.start_timestamp) > toMillis(q.end_timestamp)
  ) {
    ctx.addIssue({
      code: 'custom',
      path: ['start_timestamp'],
      message: 'start_timestamp must not be after end_timestamp',
    });
  }
}

/** Input of `mj.self`: numbers, as the typed client sends them. */
export const selfTaskQuerySchema = z.object(listParams(intParam)).superRefine(checkRange);

/** Input of `mj.all`: the user query plus `channel_id`. */
export const allTaskQuerySchema = z.object(allListParams(intParam)).superRefine(checkRange);

/** Query of `GET /api/mj/self`: the same checks, the numbers read from query text. */
export const selfTaskRestQuerySchema = z.object(listParams(queryIntParam)).superRefine(checkRange);

/** Query of `GET /api/mj/`. */
export const allTaskRestQuerySchema = z.object(allListParams(queryIntParam)).superRefine(checkRange);

export type SelfTaskQuery = z.infer<typeof selfTaskQuerySchema>;
export type AllTaskQuery = z.infer<typeof allTaskQuerySchema>;

export const mjIdInputSchema = z.object({ mj_id: z.string().trim().min(1, { message: 'mj_id is required' }).max(64) });
