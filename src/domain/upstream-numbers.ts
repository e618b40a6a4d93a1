import type { LogFields, Logger } from '../lib/logger.ts';

/**
 * Numbers from an upstream, brought into their column's range before they reach SQL (SPEC §4, §10).
 * PostgreSQL refuses what does not fit its column (`1e308` into a bigint fails the whole
 * statement, and with it the transaction of a poll batch or a submit), while SQLite stores
 * anything; so both databases take the same values only when the domain checks first. The
 * ranges are PostgreSQL's column types, narrowed to what a JavaScript number holds exactly.
 */
export const UPSTREAM_NUMBER_RANGES = {
  /** Millisecond epoch times (`bigint`): never negative, and exact as a JS number. */
  time: [0, Number.MAX_SAFE_INTEGER],
  /** `integer` (int4) columns: the upstream's submit `code`. */
  int4: [-2_147_483_648, 2_147_483_647],
} as const satisfies Record<string, readonly [number, number]>;

export type UpstreamNumberKind = keyof typeof UPSTREAM_NUMBER_RANGES;

export interface BoundedNumber {
  value: number;
  /** False when the value was not a whole number inside the range and `fallback` was taken. */
  ok: boolean;
}

/** Decimal digits only (no exponent, fraction or spaces): midjourney-proxy forks send times as text. */
const INTEGER_TEXT = /^-?\d{1,32}$/;

/**
 * The value for a `kind` column: a whole number (or the decimal text of one) inside the range is
 * kept; anything else (out of range, fractional, NaN, ±Infinity, text that is not an integer, a
 * boolean, an object) becomes `fallback`, with `ok: false` so the caller can warn.
 */
export function boundUpstreamNumber(v: unknown, kind: UpstreamNumberKind, fallback = 0): BoundedNumber {
  let n: number | null = null;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'string' && INTEGER_TEXT.test(v)) n = Number(v);
  const [min, max] = UPSTREAM_NUMBER_RANGES[kind];
  // Number.isSafeInteger also refuses text past 2^53, which Number() would round.
  if (n === null || !Number.isSafeInteger(n) || n < min || n > max) return { value: fallback, ok: false };
  // -0 is written as a float by some drivers; the column holds 0.
  return { value: n === 0 ? 0 : n, ok: true };
}

/** A hostile value shown in a log line: its type and at most 64 characters of it. */
export function previewValue(v: unknown): string {
  let text: string;
  try {
    text = typeof v === 'string' ? JSON.stringify(v) : String(JSON.stringify(v) ?? String(v));
  } catch {
    text = String(v);
  }
  return `${Array.isArray(v) ? 'array' : v === null ? 'null' : typeof v} ${text.length > 64 ? `${text.slice(0, 64)}…` : text}`;
}

/** Warns at most once per key (e.g. field and channel); what an upstream sends cannot flood the log. */
export type WarnOnce = (key: string, msg: string, fields: LogFields) => void;

/**
 * A WarnOnce over `logger`. The keys it remembers are bounded: past `maxKeys` it forgets them all
 * and starts again, so a long-lived process warns again now and then rather than growing.
 */
export function createWarnOnce(logger: Pick<Logger, 'warn'>, maxKeys = 10_000): WarnOnce {
  const seen = new Set<string>();
  return (key, msg, fields) => {
    if (seen.has(key)) return;
    if (seen.size >= maxKeys) seen.clear();
    seen.add(key);
    logger.warn(msg, fields);
  };
}

const byLogger = new WeakMap<object, WarnOnce>();

/** The one WarnOnce of a long-lived logger (the relay's), so every request shares its memory. */
export function warnOnceFor(logger: Logger): WarnOnce {
  let w = byLogger.get(logger);
  if (!w) byLogger.set(logger, (w = createWarnOnce(logger)));
  return w;
}

/** The message and key of one upstream value that fell back, for a WarnOnce. */
export function warnFellBack(
  warn: WarnOnce | undefined,
  channelId: number,
  field: string,
  value: unknown,
  stored: number | string,
  extra: LogFields = {},
): void {
  warn?.(`${field}:${channelId}`, 'upstream value does not fit its column; stored the fallback', {
    channelId,
    field,
    value: previewValue(value),
    stored,
    ...extra,
  });
}
