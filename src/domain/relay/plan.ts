import { CHANNEL_STATUS } from '../../contract/constants.ts';
import { modelNameOf, type TaskAction } from '../actions.ts';
import { type Channel, getChannelFrom, pickChannelFrom } from '../channels.ts';
import { AppError } from '../errors.ts';
import type { OptionsStore } from '../options.ts';
import { hookUrlOf } from '../webhooks.ts';
import { actionOfCustomId, parseSimpleChange } from './actions.ts';
import type { SubmitRequest } from './request.ts';
import type { SubmitKind } from './schemas.ts';
import type { RelayCallerInfo, RelayEnv } from './types.ts';

/**
 * Everything decided before any money moves (SPEC §7.2 steps 1–3, 5): the validated body, the
 * action and model it bills as, the upstream channel (the parent's for follow-ups), and the exact
 * path and body that will be forwarded.
 */
export interface SubmitPlan {
  action: TaskAction;
  modelName: string;
  channel: Channel;
  /** A new job (not a follow-up): only these may fail over to another channel. */
  newJob: boolean;
  /** Prompt recorded on the task (the parent's for follow-ups). */
  prompt: string;
  state: string;
  forwardPath: string;
  forwardBody: Record<string, unknown>;
  /** Where the gateway delivers this task's changes (SPEC §15); null for none or webhooks off. */
  notifyHook: string | null;
}

interface Intent {
  action: TaskAction;
  prompt: string;
  /** Upstream id of the parent task, for follow-ups. */
  parentId: string | null;
  /** Follow-ups other than modal need a SUCCESS parent (when the option says so). */
  needsSuccessParent: boolean;
  body: Record<string, unknown>;
  path: string;
}

const MODE_FLAGS = /(^|\s)--(?:fast|relax|turbo)(?=\s|$)/g;

/** Remove `--fast`, `--relax`, `--turbo` (whole flags only) from a prompt. */
export function clearModeFlags(prompt: string): string {
  return prompt
    .replace(MODE_FLAGS, '$1')
    .replace(/\s{2,}/g, ' ')
    .trim();
}

/** Apply the forwarding options of SPEC §3 to a copy of the body. */
export function filterForwardBody(body: Record<string, unknown>, options: OptionsStore): Record<string, unknown> {
  const out = { ...body };
  if (!options.get('mj_notify_enabled')) delete out.notifyHook;
  if (!options.get('mj_account_filter_enabled')) delete out.accountFilter;
  if (options.get('mj_mode_clear_enabled') && typeof out.prompt === 'string') out.prompt = clearModeFlags(out.prompt);
  return out;
}

/** New jobs named by their prompt. */
const PROMPT_ACTION = { imagine: 'IMAGINE', shorten: 'SHORTEN', edits: 'EDITS' } as const satisfies Partial<
  Record<SubmitKind, TaskAction>
>;

/** New jobs whose body carries images, not a prompt. */
const PROMPTLESS_ACTION = {
  describe: 'DESCRIBE',
  blend: 'BLEND',
  upload: 'UPLOAD',
  swap: 'SWAP_FACE',
} as const satisfies Partial<Record<SubmitKind, TaskAction>>;

function newJob(action: TaskAction, prompt: string, body: Record<string, unknown>, path: string): Intent {
  return { action, prompt, parentId: null, needsSuccessParent: false, body, path };
}

function followUp(
  action: TaskAction,
  taskId: string,
  body: Record<string, unknown>,
  path: string,
  needsSuccessParent = true,
): Intent {
  return { action, prompt: '', parentId: taskId.trim(), needsSuccessParent, body, path };
}

/** Say what a typed request asks for (its fields are checked already). */
function intentOf(req: SubmitRequest): Intent {
  const { forward: body, path } = req;
  switch (req.kind) {
    case 'imagine':
    case 'shorten':
    case 'edits':
      return newJob(PROMPT_ACTION[req.kind], req.fields.prompt, body, path);
    case 'describe':
    case 'blend':
    case 'upload':
    case 'swap':
      return newJob(PROMPTLESS_ACTION[req.kind], '', body, path);
    case 'video': {
      const taskId = req.fields.taskId?.trim();
      return taskId ? followUp('VIDEO', taskId, body, path) : newJob('VIDEO', req.fields.prompt, body, path);
    }
    case 'change':
      return followUp(req.fields.action, req.fields.taskId, body, path);
    case 'simple-change': {
      const change = parseSimpleChange(req.fields.content);
      // Forwarded as a plain change: midjourney-proxy Plus and C# dropped or never had simple-change.
      const { content: _content, ...rest } = body;
      const forward: Record<string, unknown> = { ...rest, taskId: change.taskId, action: change.action };
      if (change.index !== null) forward.index = change.index;
      const changePath = path.replace(/\/submit\/simple-change(?=$|\?)/, '/submit/change');
      return followUp(change.action, change.taskId, forward, changePath);
    }
    case 'action':
      return followUp(actionOfCustomId(req.fields.customId).action, req.fields.taskId, body, path);
    case 'modal':
      return followUp('MODAL', req.fields.taskId, body, path, false);
  }
}

async function parentChannel(env: RelayEnv, channelId: number): Promise<Channel> {
  const channel = await getChannelFrom(env.store, channelId);
  if (!channel) throw new AppError('BAD_REQUEST', 'channel_not_found', 'channel_not_found');
  if (channel.status !== CHANNEL_STATUS.enabled)
    throw new AppError('BAD_REQUEST', 'channel_disabled', 'channel_disabled');
  return channel;
}

/**
 * Decide a typed submission without side effects. Throws AppError: BAD_REQUEST for an unreadable
 * customId or simple-change content or an unfinished parent, NOT_FOUND `task_not_found` for a parent that is not the caller's,
 * UNAVAILABLE when no channel is enabled.
 */
export async function planSubmit(env: RelayEnv, caller: RelayCallerInfo, req: SubmitRequest): Promise<SubmitPlan> {
  const intent = intentOf(req);
  const notifyHook = env.options.get('mj_webhooks_enabled') ? hookUrlOf(intent.body) : null;
  let channel: Channel;
  let prompt = intent.prompt;
  if (intent.parentId !== null) {
    const parent = await env.taskStore.tasks.findByMjId(intent.parentId, caller.userId);
    if (!parent) throw new AppError('NOT_FOUND', 'task_not_found', 'task_not_found');
    if (
      intent.needsSuccessParent &&
      env.options.get('mj_action_check_success_enabled') &&
      parent.status !== 'SUCCESS'
    ) {
      throw new AppError('BAD_REQUEST', 'task_status_not_success', 'task_status_not_success');
    }
    channel = await parentChannel(env, parent.channelId);
    prompt = parent.prompt;
  } else {
    const picked = await pickChannelFrom(env.store);
    if (!picked) throw new AppError('UNAVAILABLE', 'no available channel', 'no_available_channel');
    channel = picked;
  }
  const state = typeof intent.body.state === 'string' ? intent.body.state : '';
  return {
    action: intent.action,
    modelName: modelNameOf(intent.action),
    channel,
    newJob: intent.parentId === null,
    prompt,
    state,
    forwardPath: intent.path,
    forwardBody: filterForwardBody(intent.body, env.options),
    notifyHook,
  };
}
