import type { TaskAction } from '../actions.ts';
import { AppError } from '../errors.ts';

/**
 * Reading what a follow-up asks for: the button `customId` of `/submit/action` and the `content`
 * of `/submit/simple-change` (SPEC §7.2 steps 1–2). Anything we cannot read is a 400, never a
 * crash, whatever the client sends.
 */

export type ChangeAction = 'UPSCALE' | 'VARIATION' | 'REROLL';

export interface ParsedCustomId {
  action: TaskAction;
  /** Image index for U/V buttons; null where the button has none. */
  index: number | null;
}

const bad = (message: string) => new AppError('BAD_REQUEST', message, 'invalid_request');

/** Show at most this much of a client value inside an error message. */
function clip(s: string, max = 80): string {
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

function indexAt(parts: readonly string[], i: number, customId: string): number {
  const raw = parts[i];
  if (raw === undefined || !/^[1-4]$/.test(raw))
    throw bad(`customId: image index must be 1 to 4 in "${clip(customId)}"`);
  return Number(raw);
}

/**
 * Map a button customId (`MJ::JOB::upsample::1::<hash>`, `MJ::Outpaint::50::1::<hash>::SOLO`,
 * `MJ::CustomZoom::<hash>`, ...) to the action it bills as. The name is the third segment after
 * `MJ::JOB::`, else the second.
 */
export function actionOfCustomId(customId: string): ParsedCustomId {
  const id = customId.trim();
  const parts = id.split('::');
  if (parts.length < 3 || parts[0] !== 'MJ' || parts.some((p) => p.length === 0)) {
    throw bad(`customId is malformed: "${clip(id)}"`);
  }
  const job = parts[1] === 'JOB';
  const name = (job ? parts[2] : parts[1]) ?? '';
  if (job) {
    if (name === 'upsample') return { action: 'UPSCALE', index: indexAt(parts, 3, id) };
    // Upscale (Subtle/Creative) and video clip upscales bill as upscales too.
    if (name.startsWith('upsample_') || name === 'video_virtual_upscale') return { action: 'UPSCALE', index: null };
    if (name === 'variation') return { action: 'VARIATION', index: indexAt(parts, 3, id) };
    if (name === 'low_variation') return { action: 'LOW_VARIATION', index: null };
    if (name === 'high_variation') return { action: 'HIGH_VARIATION', index: null };
    if (/^pan_(?:left|right|up|down)$/.test(name)) return { action: 'PAN', index: null };
    if (name === 'reroll') return { action: 'REROLL', index: null };
    if (/^animate_(?:low|high)(?:_extend)?$/.test(name)) return { action: 'VIDEO', index: null };
  } else {
    if (name === 'Outpaint') return { action: 'ZOOM', index: null };
    if (name === 'CustomZoom') return { action: 'CUSTOM_ZOOM', index: null };
    if (name === 'Inpaint') return { action: 'INPAINT', index: null };
  }
  throw bad(`customId: unknown action "${clip(id)}"`);
}

export interface SimpleChange {
  taskId: string;
  action: ChangeAction;
  /** 1–4 for U/V; null for R. */
  index: number | null;
}

/** `"<taskId> U1..U4|V1..V4|R"` (case-insensitive op), as midjourney-proxy's simple-change reads it. */
export function parseSimpleChange(content: string): SimpleChange {
  const m = /^\s*(\S+)\s+(?:([UuVv])([1-4])|([Rr]))\s*$/.exec(content);
  if (!m || m[1] === undefined) throw bad('content must be "<taskId> U1..U4|V1..V4|R"');
  if (m[4] !== undefined) return { taskId: m[1], action: 'REROLL', index: null };
  return { taskId: m[1], action: m[2]?.toUpperCase() === 'U' ? 'UPSCALE' : 'VARIATION', index: Number(m[3]) };
}
