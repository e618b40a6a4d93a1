import { buttonsFor } from './buttons.ts';
import { describeText, shortenText } from './texts.ts';
import type { SimTask, TaskAction, TaskStatus, TaskView } from './types.ts';

/** Discord shows irregular percentages; these are the values the bot typically posts. */
const GRID_PROGRESS: readonly string[] = ['0%', '15%', '31%', '46%', '62%', '78%', '93%'];
/** DESCRIBE, SHORTEN and face swaps have no percentage steps. */
const QUICK_PROGRESS: readonly string[] = ['0%'];

/** Channel id every simulated task reports as its Discord instance. */
export const DISCORD_INSTANCE_ID = '1118138338562560102';

/** failReason of a `--sim-fail` task, in the `[<embed title>] <description>` form of the proxy. */
export const SIM_FAIL_REASON = '[Invalid parameter] simulated failure';

function progressSteps(action: TaskAction): readonly string[] {
  return action === 'DESCRIBE' || action === 'SHORTEN' || action === 'SWAP_FACE' ? QUICK_PROGRESS : GRID_PROGRESS;
}

/** Steps from run start to SUCCESS: NOT_START (0), SUBMITTED (1), the progress steps, then done. */
export function successStep(action: TaskAction): number {
  return 2 + progressSteps(action).length;
}

/** A `--sim-fail` task fails after at most two IN_PROGRESS steps. */
function failStep(action: TaskAction): number {
  return 2 + Math.min(2, progressSteps(action).length);
}

/** Status facts derived from the clock. */
export interface Phase {
  status: TaskStatus;
  progress: string | null;
  startTime: number | null;
  finishTime: number | null;
}

/** Where a task stands at `now`: a pure function of the stored facts, so no timers are needed. */
export function phaseOf(task: SimTask, now: number, stepMs: number): Phase {
  if (task.runFrom === null) return { status: 'MODAL', progress: null, startTime: null, finishTime: null };
  const runFrom = task.runFrom;
  const elapsed = now - runFrom;
  const step = stepMs <= 0 ? Number.POSITIVE_INFINITY : elapsed < 0 ? 0 : Math.floor(elapsed / stepMs);
  const at = (n: number) => runFrom + n * Math.max(0, stepMs);
  if (step < 1) return { status: 'NOT_START', progress: null, startTime: null, finishTime: null };
  const startTime = at(1);
  if (step < 2) return { status: 'SUBMITTED', progress: '0%', startTime, finishTime: null };
  const steps = progressSteps(task.action);
  if (task.outcome === 'fail' && step >= failStep(task.action)) {
    return { status: 'FAILURE', progress: '', startTime, finishTime: at(failStep(task.action)) };
  }
  const done = successStep(task.action);
  if (task.outcome === 'hang' || step < done) {
    const i = Math.min(step - 2, steps.length - 1);
    return { status: 'IN_PROGRESS', progress: steps[i] ?? '0%', startTime, finishTime: null };
  }
  return { status: 'SUCCESS', progress: '100%', startTime, finishTime: at(done) };
}

/** URL of a task's final image; the text after the last `_` is the messageHash, as in Discord. */
export function finalImageUrl(base: string, task: SimTask): string {
  return `${base}/images/user_${task.slug}_${task.hash}.png`;
}

/** URL of the progress preview. */
export function previewImageUrl(base: string, task: SimTask): string {
  return `${base}/images/${task.id}_grid_0.png`;
}

/** URL of a VIDEO task's clip. */
export function videoUrl(base: string, task: SimTask): string {
  return `${base}/videos/${task.id}.mp4`;
}

/** Task JSON as midjourney-proxy Plus serves it, at `now`. All core fields present, nulls included. */
export function toView(task: SimTask, now: number, stepMs: number, base: string): TaskView {
  const phase = phaseOf(task, now, stepMs);
  const success = phase.status === 'SUCCESS';
  const running = phase.status === 'IN_PROGRESS';
  let prompt = task.prompt;
  let promptEn = task.promptEn;
  let finalPrompt = task.finalPrompt;
  if (success && task.action === 'DESCRIBE') {
    prompt = promptEn = finalPrompt = describeText(task.hash);
  } else if (success && task.action === 'SHORTEN') {
    finalPrompt = shortenText(task.prompt);
  }
  let imageUrl: string | null = null;
  if (success) imageUrl = finalImageUrl(base, task);
  else if (running && !['DESCRIBE', 'SHORTEN', 'SWAP_FACE'].includes(task.action))
    imageUrl = previewImageUrl(base, task);
  const isVideo = success && task.action === 'VIDEO';
  const botType = task.action === 'SWAP_FACE' ? 'INSIGHT_FACE' : 'MID_JOURNEY';
  const properties: Record<string, unknown> = {
    notifyHook: task.notifyHook,
    nonce: task.nonce,
    discordInstanceId: DISCORD_INSTANCE_ID,
    discordChannelId: DISCORD_INSTANCE_ID,
    botType,
    finalPrompt,
    ...task.extraProps,
  };
  if (running || success) properties.progressMessageId = `${task.nonce.slice(0, 18)}1`;
  if (success) {
    properties.messageId = `${task.nonce.slice(0, 18)}2`;
    properties.messageHash = task.hash;
    properties.flags = 0;
  }
  return {
    id: task.id,
    action: task.action,
    customId: task.customId,
    botType,
    status: phase.status,
    prompt,
    promptEn,
    description: task.description,
    state: task.state,
    submitTime: task.submitTime,
    startTime: phase.startTime,
    finishTime: phase.finishTime,
    imageUrl,
    videoUrl: isVideo ? videoUrl(base, task) : null,
    videoUrls: isVideo ? [{ url: videoUrl(base, task) }] : null,
    progress: phase.progress,
    failReason: phase.status === 'FAILURE' ? SIM_FAIL_REASON : null,
    properties,
    buttons: success ? buttonsFor(task.action, task.hash) : [],
  };
}
