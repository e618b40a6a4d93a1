import {
  accepted,
  type Body,
  commonFields,
  createWithFlags,
  finishedParent,
  isDataUrl,
  isImageRef,
  parseFlags,
  refuse,
  type SubmitContext,
  str,
  vo,
} from './submit-common.ts';
import type { NewTask } from './task-store.ts';
import type { JsonAnswer, TaskAction } from './types.ts';

/** A task made from its prompt (`/<command> <prompt>`), refused or delayed as the prompt's flags say. */
function fromPrompt(
  ctx: SubmitContext,
  body: Body,
  action: TaskAction,
  command: string,
  prompt: string,
  more: Partial<NewTask> = {},
): JsonAnswer {
  return createWithFlags(
    ctx,
    { action, prompt, description: `/${command} ${prompt}`, ...more, ...commonFields(body) },
    parseFlags(prompt),
  );
}

/** POST /submit/imagine: prompt required; optional base64Array of data URLs. */
export function submitImagine(body: Body, ctx: SubmitContext): JsonAnswer {
  const prompt = str(body, 'prompt');
  if (prompt === null) return refuse(4, 'prompt cannot be empty');
  const refs = body.base64Array;
  if (refs !== undefined && refs !== null && (!Array.isArray(refs) || !refs.every(isDataUrl))) {
    return refuse(4, 'Invalid base64 format');
  }
  return fromPrompt(ctx, body, 'IMAGINE', 'imagine', prompt);
}

/** POST /submit/shorten: like imagine, the result is a prompt analysis. */
export function submitShorten(body: Body, ctx: SubmitContext): JsonAnswer {
  const prompt = str(body, 'prompt');
  if (prompt === null) return refuse(4, 'prompt cannot be empty');
  return fromPrompt(ctx, body, 'SHORTEN', 'shorten', prompt);
}

/** POST /submit/describe: a data URL in `base64` or an http(s) URL in `link`. */
export function submitDescribe(body: Body, ctx: SubmitContext): JsonAnswer {
  const base64 = str(body, 'base64');
  const link = str(body, 'link');
  if (base64 === null && link === null) return refuse(4, 'base64 or link cannot be empty');
  if (base64 !== null && !isDataUrl(base64)) return refuse(4, 'Invalid base64 format');
  if (base64 === null && link !== null && !/^https?:\/\/\S+$/.test(link)) return refuse(4, 'Invalid link format');
  const task = ctx.store.create({ action: 'DESCRIBE', prompt: '', description: '/describe', ...commonFields(body) });
  task.description = `/describe ${task.id}.png`;
  return accepted(task);
}

const DIMENSIONS: Record<string, string> = { PORTRAIT: '2:3', SQUARE: '1:1', LANDSCAPE: '3:2' };

/** POST /submit/blend: 2..5 data URLs and optional dimensions (default SQUARE). */
export function submitBlend(body: Body, ctx: SubmitContext): JsonAnswer {
  const images = body.base64Array;
  if (!Array.isArray(images) || images.length < 2 || images.length > 5)
    return refuse(4, 'base64List parameter error: 2 to 5 images');
  if (!images.every(isDataUrl)) return refuse(4, 'Invalid base64 format');
  const dim = body.dimensions === undefined || body.dimensions === null ? 'SQUARE' : body.dimensions;
  const ratio = typeof dim === 'string' ? DIMENSIONS[dim] : undefined;
  if (ratio === undefined) return refuse(4, 'dimensions parameter error');
  const task = ctx.store.create({
    action: 'BLEND',
    prompt: '',
    finalPrompt: `blend of ${images.length} images --ar ${ratio}`,
    description: '/blend',
    ...commonFields(body),
  });
  task.description = `/blend ${task.id} ${images.length}`;
  return accepted(task);
}

/** POST /submit/video: prompt required; `action: "extend"` continues a finished parent `taskId`. */
export function submitVideo(body: Body, ctx: SubmitContext): JsonAnswer {
  const prompt = str(body, 'prompt');
  if (prompt === null) return refuse(4, 'Prompt cannot be empty');
  const action = str(body, 'action');
  const taskId = str(body, 'taskId');
  if (action !== null && action !== 'extend') return refuse(4, 'Task type error');
  if (taskId !== null && action !== 'extend') return refuse(4, 'Task type error');
  let parentId: string | null = null;
  if (action === 'extend') {
    if (taskId === null) return refuse(4, 'taskId cannot be empty');
    const check = finishedParent(ctx, taskId, 404);
    if (!check.ok) return check.answer;
    parentId = check.parent.id;
  } else if (body.image !== undefined && body.image !== null && !isImageRef(body.image)) {
    return refuse(4, 'Invalid image format');
  }
  const motion = body.motion === 'high' ? 'high' : 'low';
  return fromPrompt(ctx, body, 'VIDEO', 'video', prompt, { parentId, extraProps: { motion } });
}

/** POST /submit/edits: prompt and image both required. */
export function submitEdits(body: Body, ctx: SubmitContext): JsonAnswer {
  const prompt = str(body, 'prompt');
  const image = str(body, 'image');
  if (prompt === null || image === null) return refuse(4, 'image or prompt cannot be empty');
  return fromPrompt(ctx, body, 'EDIT', 'edit', prompt);
}

/** POST /insight-face/swap: a face (sourceBase64|sourceUrl) and a target (targetBase64|targetUrl). */
export function submitSwap(body: Body, ctx: SubmitContext): JsonAnswer {
  const source = str(body, 'sourceBase64') ?? str(body, 'sourceUrl');
  const target = str(body, 'targetBase64') ?? str(body, 'targetUrl');
  if (source === null) return refuse(4, 'Face image cannot be empty');
  if (target === null) return refuse(4, 'Target image cannot be empty');
  if (!isImageRef(source) || !isImageRef(target)) return refuse(4, 'Invalid image format');
  if (source === target) return refuse(4, 'Face image and target image cannot be the same');
  const task = ctx.store.create({ action: 'SWAP_FACE', prompt: '', description: '/swap', ...commonFields(body) });
  return accepted(task);
}

/** POST /submit/upload-discord-images: no task, `result` is the list of URLs (they resolve here). */
export function submitUpload(body: Body, ctx: SubmitContext): JsonAnswer {
  const images = body.base64Array;
  if (!Array.isArray(images) || images.length === 0) return refuse(4, 'base64 parameter error');
  if (!images.every(isDataUrl)) return refuse(4, 'Invalid base64 format');
  const urls = images.map(() => `${ctx.base}/images/upload_${crypto.randomUUID().replaceAll('-', '')}.png`);
  return vo(1, 'Submit success', urls, {});
}
