import { parseCustomId } from './buttons.ts';
import {
  accepted,
  type Body,
  commonFields,
  finishedParent,
  outcomeOf,
  PARENT_BAD_STATUS,
  PARENT_NOT_FOUND,
  parseFlags,
  refuse,
  type SubmitContext,
  str,
  vo,
} from './submit-common.ts';
import { slugify } from './task-store.ts';
import { describeSuggestions, shortenOptions } from './texts.ts';
import type { JsonAnswer, SimTask, TaskAction } from './types.ts';

function inherit(parent: SimTask, body: Body) {
  return {
    prompt: parent.prompt,
    promptEn: parent.promptEn,
    finalPrompt: parent.finalPrompt,
    parentId: parent.id,
    ...commonFields(body),
  };
}

const CHANGE_ACTIONS: Record<string, TaskAction> = { UPSCALE: 'UPSCALE', VARIATION: 'VARIATION', REROLL: 'REROLL' };
const CHANGEABLE_PARENTS = new Set<TaskAction>(['IMAGINE', 'VARIATION', 'REROLL', 'BLEND']);

/** POST /submit/change (legacy U/V/R): taskId, action UPSCALE|VARIATION|REROLL, index 1..4 for U/V. */
export function submitChange(body: Body, ctx: SubmitContext): JsonAnswer {
  const taskId = str(body, 'taskId');
  if (taskId === null) return refuse(4, 'taskId cannot be empty');
  const actionName = str(body, 'action');
  const action = actionName === null ? undefined : CHANGE_ACTIONS[actionName];
  if (action === undefined) return refuse(4, 'Invalid action parameter');
  const index = typeof body.index === 'number' ? body.index : Number(body.index);
  if (action !== 'REROLL' && !(Number.isInteger(index) && index >= 1 && index <= 4))
    return refuse(4, 'index must be 1 to 4');
  const check = finishedParent(ctx, taskId, 200);
  if (!check.ok) return check.answer;
  const parent = check.parent;
  if (!CHANGEABLE_PARENTS.has(parent.action)) return refuse(4, 'The related task does not allow changes');
  const op = action === 'REROLL' ? 'R' : `${action === 'UPSCALE' ? 'U' : 'V'}${index}`;
  const task = ctx.store.create({
    action,
    description: `/up ${parent.id} ${op}`,
    ...inherit(parent, body),
  });
  return accepted(task);
}

/** POST /submit/simple-change: `content` = "<taskId> U1..U4|V1..V4|R" (case-insensitive). */
export function submitSimpleChange(body: Body, ctx: SubmitContext): JsonAnswer {
  const content = str(body, 'content');
  const parts = content === null ? [] : content.split(/\s+/);
  const [taskId, opRaw] = parts;
  const op = opRaw?.toUpperCase();
  const m = op === undefined ? null : /^(?:([UV])([1-4])|R)$/.exec(op);
  if (parts.length !== 2 || taskId === undefined || m === null) return refuse(4, 'content parameter error');
  const action = m[1] === 'U' ? 'UPSCALE' : m[1] === 'V' ? 'VARIATION' : 'REROLL';
  const changeBody: Body = { taskId, action, state: body.state, notifyHook: body.notifyHook };
  if (m[2] !== undefined) changeBody.index = Number(m[2]);
  return submitChange(changeBody, ctx);
}

function rerollAction(parent: SimTask): TaskAction | null {
  if (parent.action === 'UPSCALE' || parent.action === 'UPSCALE_HD') return 'IMAGINE';
  if (parent.action === 'REROLL') return null;
  return parent.action;
}

/** Prompt a modal pre-fills: the chosen DESCRIBE suggestion or SHORTEN option, else the parent's. */
function modalPrompt(parent: SimTask, customId: string, index: number | null): string {
  const i = (index ?? 1) - 1;
  if (customId.startsWith('MJ::Job::PicReader::') && parent.action === 'DESCRIBE') {
    const picked = describeSuggestions(parent.hash)[i];
    if (picked !== undefined) return picked.replace(/^\S+\s/, '');
  }
  if (customId.startsWith('MJ::Job::PromptAnalyzer::') && parent.action === 'SHORTEN') {
    const picked = shortenOptions(parent.prompt)[i];
    if (picked !== undefined) return picked;
  }
  return parent.prompt;
}

/**
 * POST /submit/action: taskId + customId from a parent button. CustomZoom, Inpaint (Vary Region),
 * PicReader and PromptAnalyzer answer code 21 with the task waiting in MODAL for /submit/modal.
 */
export function submitAction(body: Body, ctx: SubmitContext): JsonAnswer {
  const taskId = str(body, 'taskId');
  const customId = str(body, 'customId');
  if (taskId === null || customId === null) return refuse(4, 'Invalid parameters: taskId and customId are required');
  const check = finishedParent(ctx, taskId, 404);
  if (!check.ok) return check.answer;
  const parent = check.parent;
  const parsed = parseCustomId(customId);
  if (parsed === null) return refuse(4, 'Unknown action type');
  if (parsed.kind === 'bookmark') return vo(1, 'Submit success', parent.id, {});
  const base = inherit(parent, body);
  if (parsed.kind === 'reroll') {
    const action = rerollAction(parent);
    if (action === null) return refuse(4, 'This task does not support reroll');
    return accepted(ctx.store.create({ ...base, action, customId, description: `/up ${parent.id} R` }));
  }
  const { action, modal, index } = parsed;
  let description = `/${action.toLowerCase()} ${parent.id}`;
  if (customId.startsWith('MJ::JOB::upsample::')) description = `/up ${parent.id} U${index ?? 1}`;
  if (customId.startsWith('MJ::JOB::variation::')) description = `/up ${parent.id} V${index ?? 1}`;
  if (!modal) return accepted(ctx.store.create({ ...base, action, customId, description }));
  const prompt = modalPrompt(parent, customId, index);
  const task = ctx.store.create({
    ...base,
    prompt,
    promptEn: prompt,
    finalPrompt: prompt,
    action,
    customId,
    description,
    modal: true,
    extraProps: { remix: true },
  });
  return vo(21, 'Waiting for window confirm', task.id, { finalPrompt: prompt, remix: true });
}

/**
 * POST /submit/modal: confirms a MODAL task (optionally with a new prompt) and queues it.
 * Unlike C#, a task that is not waiting in MODAL is refused with code 4, to catch double submits.
 */
export function submitModal(body: Body, ctx: SubmitContext): JsonAnswer {
  const taskId = str(body, 'taskId');
  if (taskId === null) return refuse(4, 'taskId cannot be empty');
  const task = ctx.store.get(taskId);
  if (!task) return refuse(3, PARENT_NOT_FOUND, 404);
  if (task.runFrom !== null) return refuse(4, PARENT_BAD_STATUS);
  const prompt = str(body, 'prompt');
  if (prompt !== null) {
    task.prompt = task.promptEn = task.finalPrompt = prompt;
    task.slug = slugify(prompt);
    task.outcome = outcomeOf(parseFlags(prompt));
  }
  if (task.prompt.trim() === '') return refuse(4, 'prompt cannot be empty');
  task.runFrom = ctx.now();
  ctx.store.save(task);
  return accepted(task);
}
