import { DISCORD_INSTANCE_ID, finalImageUrl, phaseOf } from './lifecycle.ts';
import type { NewTask, TaskStore } from './task-store.ts';
import type { JsonAnswer, SimTask, SubmitResult, TaskOutcome } from './types.ts';

/** What submit handlers need from the server. */
export interface SubmitContext {
  store: TaskStore;
  /** Base URL of the simulator, for image URLs in answers. */
  base: string;
  /** Lifecycle step length, to judge whether a parent task is finished. */
  stepMs: number;
  now(): number;
}

/** A submit body: any JSON object; anything else is treated as an empty object (→ validation errors). */
export type Body = Record<string, unknown>;

/** Narrows a parsed JSON body to an object. */
export function asBody(value: unknown): Body {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Body) : {};
}

/** SubmitResultVO answer with `properties` always an object. */
export function vo(
  code: number,
  description: string,
  result: SubmitResult['result'],
  properties: Record<string, unknown> = {},
  status = 200,
): JsonAnswer {
  const body: SubmitResult = { code, description, result, properties };
  return { status, body };
}

/** A refusal: `result` null, HTTP 200 unless told. */
export function refuse(
  code: number,
  description: string,
  status = 200,
  properties: Record<string, unknown> = {},
): JsonAnswer {
  return vo(code, description, null, properties, status);
}

export const PARENT_NOT_FOUND = '关联任务不存在或已失效';
export const PARENT_BAD_STATUS = '关联任务状态错误';

/** Trimmed non-empty string field, else null. */
export function str(body: Body, key: string): string | null {
  const v = body[key];
  if (typeof v !== 'string') return null;
  const t = v.trim();
  return t.length > 0 ? t : null;
}

/** Optional free-text field echoed back (state, notifyHook): kept as sent when a string. */
function optionalText(body: Body, key: string): string | null {
  const v = body[key];
  return typeof v === 'string' ? v : null;
}

/** Fields every submit body may carry: echoed `state`, per-task `notifyHook`. */
export function commonFields(body: Body): { state: string | null; notifyHook: string | null } {
  return { state: optionalText(body, 'state'), notifyHook: optionalText(body, 'notifyHook') };
}

const DATA_URL = /^data:[\w.+-]+\/[\w.+-]+;base64,[A-Za-z0-9+/=\s]+$/;

/** A `data:<mime>;base64,<data>` URL as the proxy expects for uploads. */
export function isDataUrl(v: unknown): v is string {
  return typeof v === 'string' && DATA_URL.test(v.trim());
}

/** Either a data URL or an http(s) URL (C# accepts both for images). */
export function isImageRef(v: unknown): v is string {
  return isDataUrl(v) || (typeof v === 'string' && /^https?:\/\/\S+$/.test(v.trim()));
}

/** Test knobs read from a prompt (`--sim-*` anywhere in it). */
export interface SimFlags {
  fail: boolean;
  hang: boolean;
  banned: boolean;
  queued: boolean;
  queueFull: boolean;
  existed: boolean;
  slow: boolean;
  code: number | null;
}

function has(prompt: string, flag: string): boolean {
  return new RegExp(`(^|\\s)--sim-${flag}(?=\\s|$)`).test(prompt);
}

/** Reads the `--sim-*` flags of a prompt. */
export function parseFlags(prompt: string | null): SimFlags {
  const p = prompt ?? '';
  const code = /(^|\s)--sim-code=(\d{1,4})(?=\s|$)/.exec(p);
  return {
    fail: has(p, 'fail'),
    hang: has(p, 'hang'),
    banned: has(p, 'banned'),
    queued: has(p, 'queued'),
    queueFull: has(p, 'queue-full'),
    existed: has(p, 'existed'),
    slow: has(p, 'slow'),
    code: code?.[2] !== undefined ? Number(code[2]) : null,
  };
}

/** How a task created under these flags ends. */
export function outcomeOf(flags: SimFlags): TaskOutcome {
  if (flags.fail) return 'fail';
  if (flags.hang) return 'hang';
  return 'success';
}

/** The usual accepted answer for a created task: code 1, or 22 under `--sim-queued`. */
export function accepted(task: SimTask, queued = false): JsonAnswer {
  if (queued) {
    return vo(22, 'In queue, there are 1 tasks ahead', task.id, {
      numberOfQueues: 1,
      discordInstanceId: DISCORD_INSTANCE_ID,
    });
  }
  return vo(1, 'Submit success', task.id, { discordInstanceId: DISCORD_INSTANCE_ID });
}

/**
 * Creates a task from a prompt-bearing submit, honouring the prompt flags: `--sim-code=N`, banned
 * (24), queue full (23) and existed (21 with a finished task) answer without a normal task;
 * `--sim-queued` answers 22; `--sim-fail` / `--sim-hang` pick how the task ends.
 */
export function createWithFlags(ctx: SubmitContext, input: NewTask, flags: SimFlags): JsonAnswer {
  if (flags.code !== null) return refuse(flags.code, `simulated code ${flags.code}`);
  if (flags.banned) {
    return refuse(24, 'May contain sensitive words', 200, {
      promptEn: input.promptEn ?? input.prompt,
      bannedWord: 'sim-banned',
    });
  }
  if (flags.queueFull)
    return refuse(23, 'Queue is full, please try again later', 200, { discordInstanceId: DISCORD_INSTANCE_ID });
  if (flags.existed) {
    const task = ctx.store.create({ ...input, alreadyDone: true });
    return vo(21, 'Task already exists', task.id, {
      status: 'SUCCESS',
      imageUrl: finalImageUrl(ctx.base, task),
      discordInstanceId: DISCORD_INSTANCE_ID,
    });
  }
  const task = ctx.store.create({ ...input, outcome: outcomeOf(flags) });
  return accepted(task, flags.queued);
}

type ParentCheck = { ok: true; parent: SimTask } | { ok: false; answer: JsonAnswer };

/** Parent lookup of follow-ups (and a video extend): unknown → code 3 (HTTP 404 where C# does so), unfinished → 4. */
export function finishedParent(ctx: SubmitContext, taskId: string, notFoundStatus: number): ParentCheck {
  const parent = ctx.store.get(taskId);
  if (!parent) return { ok: false, answer: refuse(3, PARENT_NOT_FOUND, notFoundStatus) };
  if (phaseOf(parent, ctx.now(), ctx.stepMs).status !== 'SUCCESS')
    return { ok: false, answer: refuse(4, PARENT_BAD_STATUS) };
  return { ok: true, parent };
}
