import { z } from 'zod';
import { MAX_ID_CHARS, MAX_TEXT_CHARS, MAX_URL_CHARS } from '../bounds.ts';
import { AppError } from '../errors.ts';

/**
 * One zod schema per submit body (SPEC §7.2 step 1). Objects are loose: fields we do not know are
 * kept and forwarded, as a proxy should. Every message names its field, because it becomes the
 * `description` of the 400 answer as is.
 */

/** Submit routes (suffix after `/mj`) and the kind of body each takes. */
export const SUBMIT_ROUTES = {
  '/submit/imagine': 'imagine',
  '/submit/change': 'change',
  '/submit/simple-change': 'simple-change',
  '/submit/describe': 'describe',
  '/submit/blend': 'blend',
  '/submit/action': 'action',
  '/submit/modal': 'modal',
  '/submit/shorten': 'shorten',
  '/submit/video': 'video',
  '/submit/edits': 'edits',
  '/submit/upload-discord-images': 'upload',
  '/insight-face/swap': 'swap',
} as const;

export type SubmitKind = (typeof SUBMIT_ROUTES)[keyof typeof SUBMIT_ROUTES];

/** The relay path of each submit kind (the inverse of SUBMIT_ROUTES). */
export const SUBMIT_PATHS = Object.fromEntries(
  Object.entries(SUBMIT_ROUTES).map(([suffix, kind]) => [kind, `/mj${suffix}`]),
) as Record<SubmitKind, string>;

const MAX_ID_LENGTH = MAX_ID_CHARS;
const MAX_CUSTOM_ID_LENGTH = 512;
/**
 * One image as base64 or a data URL: 8 MiB of characters is about 6 MiB of image, more than
 * Midjourney takes, and the whole body stays under the 10 MiB request limit anyway.
 */
export const MAX_IMAGE_CHARS = 8 * 1024 * 1024;
/** Images per request: imagine (references) and blend take up to 5, an upload up to 10. */
export const MAX_IMAGINE_IMAGES = 5;
export const MAX_UPLOAD_IMAGES = 10;
const MAX_BOT_TYPE_LENGTH = 64;
/** `accountFilter` is a small object of ids and flags; its JSON is bounded, not its shape. */
const MAX_ACCOUNT_FILTER_CHARS = 4096;

/** A string field that must be present and not blank. */
const requiredText = (field: string, max?: number) => {
  const base = z
    .string({
      error: (iss) =>
        iss.input === undefined || iss.input === null ? `${field} is required` : `${field} must be a string`,
    })
    .refine((s) => s.trim().length > 0, `${field} is required`);
  return max === undefined ? base : base.refine((s) => s.length <= max, `${field} is longer than ${max} characters`);
};

/** A string field that may be absent or null, at most `max` characters. */
const optionalText = (field: string, max: number = MAX_TEXT_CHARS) =>
  z
    .string({ error: `${field} must be a string` })
    .max(max, `${field} is longer than ${max} characters`)
    .nullish();

/** An image (base64, data URL or link) that may be absent. */
const optionalImage = (field: string) => optionalText(field, MAX_IMAGE_CHARS);

/** An array of images, each bounded, at most `maxItems` of them. */
const imageArray = (field: string, maxItems: number) =>
  z
    .array(
      z
        .string({ error: `${field} must hold strings` })
        .max(MAX_IMAGE_CHARS, `${field} holds an image longer than ${MAX_IMAGE_CHARS} characters`),
      {
        error: (iss) =>
          iss.input === undefined || iss.input === null
            ? `${field} is required`
            : `${field} must be an array of strings`,
      },
    )
    .max(maxItems, `${field} may hold at most ${maxItems} images`);

/** An integer given as a number or a numeric string (some clients send "1"). */
const index = z.preprocess(
  (v) => (typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : v),
  z
    .number({ error: 'index must be a number from 1 to 4' })
    .int('index must be a number from 1 to 4')
    .min(1, 'index must be a number from 1 to 4')
    .max(4, 'index must be a number from 1 to 4'),
);

/** Fields every submit may carry (state is echoed; the others are filtered by options). */
const common = {
  state: optionalText('state'),
  notifyHook: optionalText('notifyHook', MAX_URL_CHARS),
  botType: optionalText('botType', MAX_BOT_TYPE_LENGTH),
  accountFilter: z
    .unknown()
    .optional()
    .refine(
      (v) => v === undefined || (JSON.stringify(v)?.length ?? 0) <= MAX_ACCOUNT_FILTER_CHARS,
      `accountFilter is larger than ${MAX_ACCOUNT_FILTER_CHARS} characters of JSON`,
    ),
};

const prompt = requiredText('prompt', MAX_TEXT_CHARS);

export const imagineSchema = z.looseObject({
  ...common,
  prompt,
  base64Array: imageArray('base64Array', MAX_IMAGINE_IMAGES).nullish(),
  base64: optionalImage('base64'),
});

export const shortenSchema = z.looseObject({ ...common, prompt });

/** Whether an optional text field holds more than blanks. */
const filled = (s: string | null | undefined): boolean => Boolean(s?.trim());

/**
 * The rules of a submit that span fields, as plain checks: the schemas below refine with them and
 * a typed submit (which has its fields checked by its own schema) is held to them by the domain.
 */
export const CROSS_FIELD_RULES = {
  describe: (b: { base64?: string | null; link?: string | null }) => filled(b.base64) || filled(b.link),
  swapSource: (b: { sourceBase64?: string | null; sourceUrl?: string | null }) =>
    filled(b.sourceBase64) || filled(b.sourceUrl),
  swapTarget: (b: { targetBase64?: string | null; targetUrl?: string | null }) =>
    filled(b.targetBase64) || filled(b.targetUrl),
  changeIndex: (b: { action: string; index?: number }) => b.action === 'REROLL' || b.index !== undefined,
} as const;

export const CROSS_FIELD_MESSAGES = {
  describe: 'base64 or link is required',
  swapSource: 'sourceBase64 (or sourceUrl) is required',
  swapTarget: 'targetBase64 (or targetUrl) is required',
  changeIndex: 'index is required for UPSCALE and VARIATION',
} as const;

export const describeSchema = z
  .looseObject({ ...common, base64: optionalImage('base64'), link: optionalText('link', MAX_URL_CHARS) })
  .refine(CROSS_FIELD_RULES.describe, CROSS_FIELD_MESSAGES.describe);

export const blendSchema = z.looseObject({
  ...common,
  base64Array: imageArray('base64Array', MAX_IMAGINE_IMAGES).refine(
    (a) => a.length >= 2,
    'base64Array must hold 2 to 5 images',
  ),
  dimensions: z
    .enum(['PORTRAIT', 'SQUARE', 'LANDSCAPE'], { error: 'dimensions must be PORTRAIT, SQUARE or LANDSCAPE' })
    .nullish(),
});

export const changeSchema = z
  .looseObject({
    ...common,
    taskId: requiredText('taskId', MAX_ID_LENGTH),
    action: z.enum(['UPSCALE', 'VARIATION', 'REROLL'], { error: 'action must be UPSCALE, VARIATION or REROLL' }),
    index: index.optional(),
  })
  .refine(CROSS_FIELD_RULES.changeIndex, { message: CROSS_FIELD_MESSAGES.changeIndex, path: ['index'] });

export const simpleChangeSchema = z.looseObject({ ...common, content: requiredText('content', MAX_ID_LENGTH + 8) });

export const actionSchema = z.looseObject({
  ...common,
  taskId: requiredText('taskId', MAX_ID_LENGTH),
  customId: requiredText('customId', MAX_CUSTOM_ID_LENGTH),
});

export const modalSchema = z.looseObject({
  ...common,
  taskId: requiredText('taskId', MAX_ID_LENGTH),
  prompt: optionalText('prompt'),
  maskBase64: optionalImage('maskBase64'),
});

export const videoSchema = z.looseObject({
  ...common,
  prompt,
  image: optionalImage('image'),
  endImage: optionalImage('endImage'),
  taskId: z
    .string({ error: 'taskId must be a string' })
    .max(MAX_ID_LENGTH, `taskId is longer than ${MAX_ID_LENGTH} characters`)
    .nullish(),
});

export const editsSchema = z.looseObject({ ...common, prompt, image: requiredText('image', MAX_IMAGE_CHARS) });

export const uploadSchema = z.looseObject({
  ...common,
  base64Array: imageArray('base64Array', MAX_UPLOAD_IMAGES).refine(
    (a) => a.length > 0,
    'base64Array must hold at least one image',
  ),
});

export const swapSchema = z
  .looseObject({
    ...common,
    sourceBase64: optionalImage('sourceBase64'),
    sourceUrl: optionalText('sourceUrl', MAX_URL_CHARS),
    targetBase64: optionalImage('targetBase64'),
    targetUrl: optionalText('targetUrl', MAX_URL_CHARS),
  })
  .refine(CROSS_FIELD_RULES.swapSource, CROSS_FIELD_MESSAGES.swapSource)
  .refine(CROSS_FIELD_RULES.swapTarget, CROSS_FIELD_MESSAGES.swapTarget);

/** The body schema of each submit kind (the OpenAPI document names them too). */
export const SUBMIT_SCHEMAS = {
  imagine: imagineSchema,
  change: changeSchema,
  'simple-change': simpleChangeSchema,
  describe: describeSchema,
  blend: blendSchema,
  action: actionSchema,
  modal: modalSchema,
  shorten: shortenSchema,
  video: videoSchema,
  edits: editsSchema,
  upload: uploadSchema,
  swap: swapSchema,
} as const;

export type SubmitBody<K extends SubmitKind> = z.infer<(typeof SUBMIT_SCHEMAS)[K]>;

/** `list-by-condition` body: at most 500 ids (SPEC §7.3). */
export const MAX_CONDITION_IDS = 500;
export const listByConditionSchema = z.looseObject({
  ids: z
    .array(
      z
        .string({ error: 'ids must hold strings' })
        .max(MAX_ID_LENGTH, `ids must hold ids of at most ${MAX_ID_LENGTH} characters`),
      { error: 'ids must be an array of strings' },
    )
    .max(MAX_CONDITION_IDS, `ids may hold at most ${MAX_CONDITION_IDS} ids`)
    .nullish(),
});

/** The first issue as one line that names the field. */
export function issueMessage(err: z.ZodError): string {
  const issue = err.issues[0];
  if (!issue) return 'invalid request body';
  const path = issue.path.map(String).join('.');
  const field = String(issue.path[0] ?? '');
  return path && !(field && issue.message.includes(field)) ? `${path}: ${issue.message}` : issue.message;
}

/** A JSON object, or a 400 naming what the body is instead. */
export function requireObject(body: unknown): Record<string, unknown> {
  if (body === undefined) return {};
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new AppError('BAD_REQUEST', 'request body must be a JSON object', 'invalid_request');
  }
  return body as Record<string, unknown>;
}

/** Validate a submit body against its kind's schema; invalid → BAD_REQUEST with the field named. */
export function parseSubmitBody<K extends SubmitKind>(kind: K, body: unknown): SubmitBody<K> {
  const parsed = SUBMIT_SCHEMAS[kind].safeParse(requireObject(body));
  if (!parsed.success) throw new AppError('BAD_REQUEST', issueMessage(parsed.error), 'invalid_request');
  return parsed.data as SubmitBody<K>;
}
