/**
 * Size bounds of free text (SPEC §10): what a client may send, what the upstream may make us
 * store, and what one listing item may show. Stored values are cut on the way in; listing items are
 * cut again on the way out, because rows written with SQL can hold anything.
 */

import { MAX_ID_CHARS, MAX_JSON_CHARS, MAX_TEXT_CHARS, MAX_URL_CHARS, MAX_WORD_CHARS } from '../lib/text-bounds.ts';

export { MAX_ID_CHARS, MAX_JSON_CHARS, MAX_TEXT_CHARS, MAX_URL_CHARS, MAX_WORD_CHARS };

/**
 * What the string fields of one listing item may take together, in bytes of their JSON encoding.
 * With keys and numbers (~0.5 KiB) a page of 100 items stays under 5 MiB whatever the table
 * holds; a real task (8 KiB prompt, its translation, properties carrying the final prompt,
 * buttons) fits whole.
 */
export const LISTING_ITEM_BUDGET_BYTES = 48 * 1024;

/** At most `max` UTF-16 units, never splitting a surrogate pair. */
export function boundText(s: string, max: number = MAX_TEXT_CHARS): string {
  if (s.length <= max) return s;
  let end = max;
  const code = s.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end -= 1;
  return s.slice(0, end);
}

/** JSON text cannot be cut and stay JSON: an oversize value is dropped (`""`). */
export function boundJsonText(s: string, max: number = MAX_JSON_CHARS): string {
  return s.length <= max ? s : '';
}

/** A cut URL points somewhere else: an oversize URL is dropped (`""`). */
export function boundUrl(s: string, max: number = MAX_URL_CHARS): string {
  return s.length <= max ? s : '';
}

/** Bytes `s` takes inside a JSON document (quotes and escapes included, UTF-8). */
export function jsonBytes(s: string): number {
  return Buffer.byteLength(JSON.stringify(s));
}

export type FieldKind = 'text' | 'json' | 'url';

/**
 * Cuts the named string fields of `item` (in place, in the given priority order) so that
 * together they take at most `budget` bytes of JSON: each first to its own bound, then to what
 * is left of the budget. Text is shortened; JSON and URLs that do not fit whole become `""`.
 */
export function fitFields<T extends object>(
  item: T,
  fields: readonly (readonly [keyof T & string, FieldKind])[],
  budget: number = LISTING_ITEM_BUDGET_BYTES,
): T {
  const out = item as Record<string, unknown>;
  // Each field to its own bound first.
  let units = 0;
  for (const [name, kind] of fields) {
    const v = out[name];
    if (typeof v !== 'string') continue;
    const s = kind === 'text' ? boundText(v) : kind === 'json' ? boundJsonText(v) : boundUrl(v);
    out[name] = s;
    units += s.length;
  }
  // Nearly every real item stops here: a UTF-16 unit takes at most 6 bytes of JSON (`\u0001`),
  // so when even that fits the budget, nothing needs measuring.
  if (units * 6 + 2 * fields.length <= budget) return item;
  // Every field keeps at least its two quotes; the rest of the budget goes to content, in order.
  let left = budget - 2 * fields.length;
  for (const [name, kind] of fields) {
    const v = out[name];
    if (typeof v !== 'string') continue;
    let s = v;
    let bytes = jsonBytes(s) - 2;
    if (bytes > left) {
      if (kind !== 'text') s = '';
      // Shrink in proportion until it fits: each pass cuts at least one character.
      while (s !== '' && bytes > left) {
        s = boundText(s, Math.min(s.length - 1, Math.floor((s.length * left) / bytes)));
        bytes = jsonBytes(s) - 2;
      }
      bytes = jsonBytes(s) - 2;
    }
    left -= bytes;
    out[name] = s;
  }
  return item;
}

/** The listing fields of a task, most useful first: what a tight budget keeps longest. */
const TASK_ITEM_FIELDS = [
  // Short words first (already cut to their own bounds), so the budget covers every string.
  ['mj_id', 'text'],
  ['action', 'text'],
  ['status', 'text'],
  ['progress', 'text'],
  ['prompt', 'text'],
  ['prompt_en', 'text'],
  ['fail_reason', 'text'],
  ['description', 'text'],
  ['state', 'text'],
  ['image_url', 'url'],
  ['video_url', 'url'],
  ['video_urls', 'json'],
  ['buttons', 'json'],
  ['properties', 'json'],
] as const;

export interface BoundableTaskItem {
  mj_id: string;
  action: string;
  status: string;
  progress: string;
  prompt: string;
  prompt_en: string;
  fail_reason: string;
  description: string;
  state: string;
  image_url: string;
  video_url: string;
  video_urls: string;
  buttons: string;
  properties: string;
}

/**
 * One task as a listing shows it, cut to the bounds (in place): rows written with SQL may hold
 * megabytes, and a page of them must still be small.
 */
export function boundTaskItem<T extends BoundableTaskItem>(item: T): T {
  item.mj_id = boundText(item.mj_id, MAX_ID_CHARS);
  item.action = boundText(item.action, MAX_WORD_CHARS);
  item.status = boundText(item.status, MAX_WORD_CHARS);
  item.progress = boundText(item.progress, MAX_WORD_CHARS);
  return fitFields(item, TASK_ITEM_FIELDS);
}

/**
 * Text both databases store alike (SPEC §10): PostgreSQL refuses U+0000 in `text` (the whole
 * statement fails, and with it a poll batch or a submit) while SQLite keeps it, so it is dropped;
 * both store a lone surrogate as U+FFFD, so it becomes that here, or a value would never compare
 * equal to what was stored and be written again on every poll.
 */
export function storableText(s: string): string {
  const t = s.isWellFormed() ? s : s.toWellFormed();
  return t.includes('\0') ? t.replaceAll('\0', '') : t;
}
