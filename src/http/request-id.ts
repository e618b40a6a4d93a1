import { randomAlphanumeric } from '../lib/ids.ts';

const ids = new WeakMap<Request, string>();

const DIGITS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
/** Distinguishes this process's ids from every other gateway's (and from its own earlier runs). */
const PREFIX = randomAlphanumeric(6);
const SPACE = 62 ** 6;
/** Starts anywhere, so two processes that drew the same prefix are still unlikely to meet. */
let counter = Math.floor(Math.random() * SPACE);

/**
 * 12 alphanumerics: a random per-process prefix and a counter. Request ids correlate log lines;
 * they are no secret, so drawing crypto randomness for each request bought nothing.
 */
export function nextRequestId(): string {
  counter = (counter + 1) % SPACE;
  let n = counter;
  let tail = '';
  for (let k = 0; k < 6; k++) {
    tail = DIGITS[n % 62]! + tail;
    n = Math.floor(n / 62);
  }
  return PREFIX + tail;
}

/** One id per request, made on first use; it is echoed as `x-request-id` and put in logs. */
export function requestIdOf(request: Request): string {
  let id = ids.get(request);
  if (!id) ids.set(request, (id = nextRequestId()));
  return id;
}
