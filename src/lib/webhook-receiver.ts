/**
 * The receiver a webhook URL reaches, `host:port` (the port spelled out, so `http://h` and
 * `http://h:80` are one receiver): deliveries are queued and limited per receiver, so one slow
 * receiver never holds another's (SPEC §15). An unparsable URL is its own receiver, `invalid`.
 */
export function receiverOf(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'invalid';
  }
  const port = parsed.port || (parsed.protocol === 'https:' ? '443' : parsed.protocol === 'http:' ? '80' : '');
  return `${parsed.hostname}:${port}`;
}

/**
 * Deliveries in flight to one receiver at a time (each of a different task, so a task's changes
 * stay in order): a slow receiver holds at most this many of the worker's slots.
 */
export const RECEIVER_IN_FLIGHT = 2;
/** Deliveries in flight for one user at a time, whatever their receivers: many slow receivers of one user hold at most this many slots. */
export const USER_IN_FLIGHT = 8;
