import type { SimButton, TaskAction } from './types.ts';

function button(customId: string, label: string, emoji = '', style = 2): SimButton {
  return { customId, emoji, label, style, type: 2 };
}

/** U1–U4, 🔄, V1–V4: the Discord grid row set of IMAGINE/VARIATION/BLEND/PAN/ZOOM results. */
export function gridButtons(hash: string): SimButton[] {
  const out: SimButton[] = [];
  for (let i = 1; i <= 4; i++) out.push(button(`MJ::JOB::upsample::${i}::${hash}`, `U${i}`));
  out.push(button(`MJ::JOB::reroll::0::${hash}::SOLO`, '', '🔄'));
  for (let i = 1; i <= 4; i++) out.push(button(`MJ::JOB::variation::${i}::${hash}`, `V${i}`));
  return out;
}

/** Buttons of an upscaled single image (v7 set, without ❤️ which Plus does not support). */
export function upscaleButtons(hash: string, withUpscale = true): SimButton[] {
  const out: SimButton[] = [];
  if (withUpscale) {
    out.push(button(`MJ::JOB::upsample_v7_2x_subtle::1::${hash}::SOLO`, 'Upscale (Subtle)'));
    out.push(button(`MJ::JOB::upsample_v7_2x_creative::1::${hash}::SOLO`, 'Upscale (Creative)'));
  }
  out.push(button(`MJ::JOB::low_variation::1::${hash}::SOLO`, 'Vary (Subtle)', '🪄'));
  out.push(button(`MJ::JOB::high_variation::1::${hash}::SOLO`, 'Vary (Strong)', '🪄'));
  out.push(button(`MJ::Inpaint::1::${hash}::SOLO`, 'Vary (Region)', '🖌️'));
  out.push(button(`MJ::Outpaint::50::1::${hash}::SOLO`, 'Zoom Out 2x', '🔍'));
  out.push(button(`MJ::Outpaint::75::1::${hash}::SOLO`, 'Zoom Out 1.5x', '🔍'));
  out.push(button(`MJ::CustomZoom::${hash}`, 'Custom Zoom', '🔍'));
  out.push(button(`MJ::JOB::pan_left::1::${hash}::SOLO`, '', '⬅️'));
  out.push(button(`MJ::JOB::pan_right::1::${hash}::SOLO`, '', '➡️'));
  out.push(button(`MJ::JOB::pan_up::1::${hash}::SOLO`, '', '⬆️'));
  out.push(button(`MJ::JOB::pan_down::1::${hash}::SOLO`, '', '⬇️'));
  return out;
}

/** DESCRIBE result: pick one of the four prompts (opens a modal) or retry. */
export function describeButtons(): SimButton[] {
  const out: SimButton[] = [];
  for (let i = 1; i <= 4; i++) out.push(button(`MJ::Job::PicReader::${i}`, `${i}`, '', 1));
  out.push(button('MJ::Picread::Retry', '', '🔄'));
  return out;
}

/** SHORTEN result: pick one of the five shortened prompts (opens a modal). */
export function shortenButtons(): SimButton[] {
  const out: SimButton[] = [];
  for (let i = 1; i <= 5; i++) out.push(button(`MJ::Job::PromptAnalyzer::${i}`, `${i}`, '', 1));
  return out;
}

/** VIDEO result: per-clip upscales and extends. */
export function videoButtons(hash: string): SimButton[] {
  const out: SimButton[] = [];
  for (let i = 1; i <= 4; i++) out.push(button(`MJ::JOB::video_virtual_upscale::${i}::${hash}`, `U${i}`));
  out.push(button(`MJ::JOB::animate_high_extend::1::${hash}::SOLO`, 'Extend (High)'));
  out.push(button(`MJ::JOB::animate_low_extend::1::${hash}::SOLO`, 'Extend (Low)'));
  return out;
}

/** Buttons a successful task of this action carries. */
export function buttonsFor(action: TaskAction, hash: string): SimButton[] {
  switch (action) {
    case 'UPSCALE':
      return upscaleButtons(hash);
    case 'UPSCALE_HD':
      return upscaleButtons(hash, false);
    case 'DESCRIBE':
      return describeButtons();
    case 'SHORTEN':
      return shortenButtons();
    case 'VIDEO':
      return videoButtons(hash);
    case 'SWAP_FACE':
      return [];
    default:
      return gridButtons(hash);
  }
}

/** What a customId asks for. `reroll` resolves against the parent; `bookmark` creates no task. */
export type ParsedCustomId =
  | { kind: 'task'; action: TaskAction; modal: boolean; index: number | null }
  | { kind: 'reroll' }
  | { kind: 'bookmark' };

const RULES: { re: RegExp; action: TaskAction; modal: boolean }[] = [
  { re: /^MJ::JOB::upsample::(\d)::/, action: 'UPSCALE', modal: false },
  { re: /^MJ::JOB::video_virtual_upscale::(\d)/, action: 'UPSCALE', modal: false },
  { re: /^MJ::JOB::upsample_v\d+_\dx_(?:subtle|creative)::(\d)::/, action: 'UPSCALE_HD', modal: false },
  { re: /^MJ::JOB::(?:variation|low_variation|high_variation)::(\d)::/, action: 'VARIATION', modal: false },
  { re: /^MJ::JOB::pan_(?:left|right|up|down)::(\d)::/, action: 'PAN', modal: false },
  { re: /^MJ::Outpaint::\d+::(\d)::/, action: 'ZOOM', modal: false },
  { re: /^MJ::JOB::animate_(?:low|high)(?:_extend)?::(\d)::/, action: 'VIDEO', modal: false },
  { re: /^MJ::Picread::Retry()/, action: 'DESCRIBE', modal: false },
  { re: /^MJ::CustomZoom::()/, action: 'ZOOM', modal: true },
  { re: /^MJ::Inpaint::(\d)::/, action: 'VARIATION', modal: true },
  { re: /^MJ::Job::PicReader::(\d)/, action: 'IMAGINE', modal: true },
  { re: /^MJ::Job::PromptAnalyzer::(\d)/, action: 'IMAGINE', modal: true },
];

/** Maps a button customId to the task it creates (C# SubmitController.Action rules); null if unknown. */
export function parseCustomId(customId: string): ParsedCustomId | null {
  if (/^MJ::JOB::reroll::/.test(customId)) return { kind: 'reroll' };
  if (/^MJ::BOOKMARK::/.test(customId)) return { kind: 'bookmark' };
  for (const rule of RULES) {
    const m = rule.re.exec(customId);
    if (m) {
      const index = m[1] ? Number(m[1]) : null;
      return { kind: 'task', action: rule.action, modal: rule.modal, index };
    }
  }
  return null;
}
