import type { AnyTaskItem } from './trpc.ts';

/** quota units per USD (SPEC §7.4). */
const QUOTA_PER_USD = 500_000;

const dateTime = new Intl.DateTimeFormat(undefined, {
  month: 'short',
  day: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hourCycle: 'h23',
});

export function formatTime(ms: number): string {
  return ms > 0 ? dateTime.format(new Date(ms)) : '—';
}

export function formatQuota(quota: number): string {
  const usd = quota / QUOTA_PER_USD;
  return `$${usd.toFixed(usd !== 0 && Math.abs(usd) < 0.01 ? 4 : 2)}`;
}

export function percentOf(progress: string): number {
  const n = Number.parseInt(progress, 10);
  return Number.isFinite(n) ? Math.min(100, Math.max(0, n)) : 0;
}

export function statusLabel(status: string): string {
  return status === '' ? 'PENDING' : status;
}

/**
 * Same-origin image link (whatever SERVER_ADDRESS says); the progress busts the preview's cache.
 * `w` asks for a WebP rendition at most that wide, `part` for one quadrant of a grid (SPEC §18);
 * an unfinished task's preview comes back as it is whatever they say.
 */
export function imageSrc(
  item: Pick<AnyTaskItem, 'mj_id' | 'progress'>,
  size: { w?: number; part?: number } = {},
): string {
  const part = size.part === undefined ? '' : `part=${size.part}&`;
  const w = size.w === undefined ? '' : `w=${size.w}&`;
  return `/mj/image/${encodeURIComponent(item.mj_id)}?${part}${w}v=${encodeURIComponent(item.progress)}`;
}

/** Rendition widths the dashboard asks for: table thumbnails (56 px, sharp on 2× screens), the detail, a quadrant. */
export const THUMB_W = 128;
export const DETAIL_W = 1024;
export const QUADRANT_W = 256;

export interface TaskButton {
  customId: string;
  label: string;
  /** What the button does, from its customId (emoji-only buttons say nothing else). */
  hint: string;
}

function hintOf(customId: string): string {
  const parts = customId.split('::');
  const name = (parts[1] === 'JOB' ? parts[2] : parts[1]) ?? '';
  return name.replace(/_/g, ' ').toLowerCase();
}

/** The follow-ups of a task: its upstream buttons (parsed by the server) that have something to show. */
export function buttonsOf(item: Pick<AnyTaskItem, 'buttons'>): TaskButton[] {
  return item.buttons.flatMap(({ customId, label, emoji }) => {
    const text = label || emoji;
    return customId && text ? [{ customId, label: text, hint: hintOf(customId) }] : [];
  });
}
