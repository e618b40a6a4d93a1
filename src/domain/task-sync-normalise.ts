import type { TaskRow } from '../contract/rows.ts';
import type { SyncFieldValues } from '../contract/tasks.ts';
import { boundJsonText, boundText, boundUrl, MAX_WORD_CHARS, storableText } from './bounds.ts';
import { boundUpstreamNumber } from './upstream-numbers.ts';

/**
 * Pure rules of the poller (SPEC §8): how one upstream task (an item of `list-by-condition`) is
 * read, normalised into our column formats, and what it means for the local row. No database and
 * no clock here, so every rule is unit-testable.
 */

/** The fields of an upstream task the gateway keeps, after validation. */
export interface UpstreamTask {
  id: string;
  status: string;
  /** `undefined` = absent from the item (keep ours); `null` = explicitly empty. */
  progress: string | null | undefined;
  promptEn: string | null | undefined;
  state: string | null | undefined;
  startTime: number | null | undefined;
  finishTime: number | null | undefined;
  imageUrl: string | null | undefined;
  videoUrl: string | null | undefined;
  videoUrls: unknown;
  failReason: string | null | undefined;
  buttons: unknown;
  properties: unknown;
}

/** A field of an upstream item that did not fit its column and was replaced by its fallback. */
export interface FellBack {
  field: string;
  /** What the upstream sent. */
  value: unknown;
  /** What is used instead: 0 for times, null (empty) for text. */
  stored: number | null;
}

export type ParsedItem = { ok: true; task: UpstreamTask; fellBack: FellBack[] } | { ok: false; reason: string };

const STRING_FIELDS = ['progress', 'promptEn', 'state', 'imageUrl', 'videoUrl', 'failReason'] as const;
const TIME_FIELDS = ['startTime', 'finishTime'] as const;

/**
 * Validates one item of an upstream `list-by-condition` answer. An item without a string `id` and
 * `status` is refused (logged and skipped by the caller: its row stays as it is, timeouts still
 * apply). A field that does not fit its column falls back alone (SPEC §10: times out of range,
 * fractional or not numbers → 0; text that is not a string → empty), so one hostile value never
 * costs the rest of the item, nor its batch. Text is made storable on both databases alike (see
 * storableText).
 */
export function parseUpstreamTask(raw: unknown): ParsedItem {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    return { ok: false, reason: 'item is not an object' };
  const o = raw as Record<string, unknown>;
  if (typeof o.id !== 'string' || o.id.trim() === '') return { ok: false, reason: 'item has no id' };
  if (typeof o.status !== 'string') return { ok: false, reason: `item ${o.id} has no status` };
  const fellBack: FellBack[] = [];
  const text: Partial<Record<(typeof STRING_FIELDS)[number], string | null | undefined>> = {};
  for (const f of STRING_FIELDS) {
    const v = o[f];
    if (v === undefined || v === null) text[f] = v;
    else if (typeof v === 'string') text[f] = storableText(v);
    else {
      text[f] = null;
      fellBack.push({ field: f, value: v, stored: null });
    }
  }
  const times: Partial<Record<(typeof TIME_FIELDS)[number], number | null | undefined>> = {};
  for (const f of TIME_FIELDS) {
    const v = o[f];
    if (v === undefined || v === null) {
      times[f] = v;
      continue;
    }
    const t = boundUpstreamNumber(v, 'time');
    times[f] = t.value;
    if (!t.ok) fellBack.push({ field: f, value: v, stored: t.value });
  }
  return {
    ok: true,
    fellBack,
    task: {
      id: o.id.trim(),
      status: storableText(o.status),
      progress: text.progress,
      promptEn: text.promptEn,
      state: text.state,
      startTime: times.startTime,
      finishTime: times.finishTime,
      imageUrl: text.imageUrl,
      videoUrl: text.videoUrl,
      videoUrls: o.videoUrls,
      failReason: text.failReason,
      buttons: o.buttons,
      properties: o.properties,
    },
  };
}

/**
 * `video_urls` column: a JSON array of URL strings, from the upstream's `[{ url }]` (plain strings
 * are accepted too); `""` when there are none (SPEC §6.1).
 */
export function normaliseVideoUrls(v: unknown): string {
  if (!Array.isArray(v)) return '';
  const urls: string[] = [];
  for (const entry of v) {
    if (typeof entry === 'string') urls.push(boundUrl(entry));
    else if (typeof entry === 'object' && entry !== null && typeof (entry as { url?: unknown }).url === 'string') {
      urls.push(boundUrl((entry as { url: string }).url));
    }
  }
  const kept = urls.filter((u) => u !== '');
  return kept.length ? boundJsonText(JSON.stringify(kept)) : '';
}

/**
 * `buttons` / `properties` columns: JSON text, `""` when absent, null or empty, and when larger
 * than 64 KiB (SPEC §10: cut JSON would not parse, so it is dropped whole).
 */
export function normaliseJsonText(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (Array.isArray(v) && v.length === 0) return '';
  if (typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0) return '';
  try {
    return boundJsonText(JSON.stringify(v) ?? '');
  } catch {
    return '';
  }
}

/** The task columns the poller owns; everything else (submit_time, quota, ...) stays local. */
export type SyncFields = SyncFieldValues;

export const SYNC_FIELD_NAMES: readonly (keyof SyncFields)[] = [
  'progress',
  'status',
  'promptEn',
  'state',
  'startTime',
  'finishTime',
  'imageUrl',
  'videoUrl',
  'videoUrls',
  'failReason',
  'buttons',
  'properties',
];

export const FINISHED = '100%';
/** Statuses after which the upstream will not change the task any more, other than SUCCESS. */
const FAILED_STATUSES: ReadonlySet<string> = new Set(['FAILURE', 'CANCEL']);
const DEFAULT_FAIL_REASON = 'upstream task failed';

/** What an upstream item means for the local row. */
export type SyncDecision =
  /** Nothing the gateway keeps changed. */
  | { kind: 'unchanged' }
  /** Write these values (the task may have finished successfully: progress "100%"). */
  | { kind: 'update'; fields: SyncFields }
  /** The task failed upstream: end it and refund (fields carry progress "100%", FAILURE, the reason). */
  | { kind: 'fail'; fields: SyncFields };

/** Upstream text is cut before it is stored (SPEC §10); an unchanged value compares equal. */
const str = (v: string | null | undefined, keep: string) => (v === undefined ? keep : boundText(v ?? ''));
const url = (v: string | null | undefined, keep: string) => (v === undefined ? keep : boundUrl(v ?? ''));
const time = (v: number | null | undefined, keep: number) => (v === undefined ? keep : (v ?? 0));

function currentFields(row: SyncFields): SyncFields {
  return {
    progress: row.progress,
    status: row.status,
    promptEn: row.promptEn,
    state: row.state,
    startTime: row.startTime,
    finishTime: row.finishTime,
    imageUrl: row.imageUrl,
    videoUrl: row.videoUrl,
    videoUrls: row.videoUrls,
    failReason: row.failReason,
    buttons: row.buttons,
    properties: row.properties,
  };
}

/** True when any synced column differs. */
export function fieldsDiffer(a: SyncFields, b: SyncFields): boolean {
  return SYNC_FIELD_NAMES.some((k) => a[k] !== b[k]);
}

/**
 * Applies one upstream item to an unfinished local row. Final failure = upstream status FAILURE
 * (or CANCEL), or a non-empty failReason while the task is not SUCCESS. SUCCESS finishes with
 * "100%". While unfinished, the progress is never empty ("0%" until the upstream says more) and
 * never "100%" (which would stop polling a task that has not ended).
 */
export function decideSync(row: SyncFields, item: UpstreamTask, now: number): SyncDecision {
  const current = currentFields(row);
  const next: SyncFields = {
    progress: current.progress,
    status: boundText(item.status, MAX_WORD_CHARS),
    promptEn: str(item.promptEn, current.promptEn),
    state: str(item.state, current.state),
    startTime: time(item.startTime, current.startTime),
    finishTime: time(item.finishTime, current.finishTime),
    imageUrl: url(item.imageUrl, current.imageUrl),
    videoUrl: url(item.videoUrl, current.videoUrl),
    videoUrls: item.videoUrls === undefined ? current.videoUrls : normaliseVideoUrls(item.videoUrls),
    failReason: str(item.failReason, current.failReason),
    buttons: item.buttons === undefined ? current.buttons : normaliseJsonText(item.buttons),
    properties: item.properties === undefined ? current.properties : normaliseJsonText(item.properties),
  };
  const upstreamReason = boundText((item.failReason ?? '').trim());
  if (FAILED_STATUSES.has(item.status) || (item.status !== 'SUCCESS' && upstreamReason !== '')) {
    return {
      kind: 'fail',
      fields: {
        ...next,
        status: 'FAILURE',
        progress: FINISHED,
        failReason: upstreamReason || DEFAULT_FAIL_REASON,
        finishTime: next.finishTime || now,
      },
    };
  }
  if (item.status === 'SUCCESS') {
    next.progress = FINISHED;
    next.failReason = '';
    if (!next.finishTime) next.finishTime = now;
  } else {
    const p = boundText((item.progress ?? '').trim(), MAX_WORD_CHARS);
    const keep = current.progress && current.progress !== FINISHED ? current.progress : '0%';
    next.progress = p === '' || p === FINISHED ? keep : p;
  }
  return fieldsDiffer(current, next) ? { kind: 'update', fields: next } : { kind: 'unchanged' };
}

/** `upstream task timed out after <N> minutes`, N with at most two decimals (60, 0.5, 0.01). */
export function timeoutReason(taskTimeoutMs: number): string {
  const minutes = Number((taskTimeoutMs / 60_000).toFixed(2));
  return `upstream task timed out after ${minutes} minutes`;
}

/** A task still unfinished this long after its local submit time is failed and refunded. */
export function isTimedOut(row: Pick<TaskRow, 'submitTime'>, now: number, taskTimeoutMs: number): boolean {
  return now - row.submitTime >= taskTimeoutMs;
}

/** Grace after the upstream timeout before a row without an upstream id is considered orphaned. */
export const ORPHAN_GRACE_MS = 30_000;

export const SUBMIT_DID_NOT_COMPLETE = 'submit did not complete';

export function channelGoneReason(channelId: number): string {
  return `channel ${channelId} no longer exists`;
}

/** The values that end a task as a failure, on top of what the row already holds. */
export function failureFields(row: SyncFields, reason: string, now: number): SyncFields {
  return {
    ...currentFields(row),
    status: 'FAILURE',
    progress: FINISHED,
    failReason: reason,
    finishTime: row.finishTime || now,
  };
}
