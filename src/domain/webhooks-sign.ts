import { createHmac } from 'node:crypto';

/**
 * Signing and retry timing of webhook deliveries (SPEC §15), pure so clients' verifiers and the
 * worker can be checked against the same few lines.
 */

/** Attempts per delivery, the first included; then it is `failed`. */
export const MAX_DELIVERY_ATTEMPTS = 8;
/** Wait before the second attempt; doubles after each failed attempt. */
export const FIRST_RETRY_DELAY_MS = 1000;
/** A receiver must answer 2xx within this. */
export const DELIVERY_TIMEOUT_MS = 5000;

/** How long after a rotation the outgoing secret still signs beside the new one. */
export const ROTATION_OVERLAP_MS = 24 * 60 * 60 * 1000;

/** A key's signing secrets as the outbox reads them. */
export interface KeySecrets {
  secret: string;
  previous: string | null;
  rotatedAt: number | null;
}

/**
 * The secrets a delivery made at `now` is signed with: the current one, and for 24 h after a
 * rotation the previous one too (after it), so a receiver still on the old secret keeps verifying.
 */
export function signingSecrets(key: KeySecrets, now: number): string[] {
  const overlap =
    key.previous !== null &&
    key.previous !== '' &&
    key.previous !== key.secret &&
    key.rotatedAt !== null &&
    now - key.rotatedAt < ROTATION_OVERLAP_MS;
  return overlap ? [key.secret, key.previous as string] : [key.secret];
}

/**
 * `X-Mj-Signature` value: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`, one `v1`
 * per secret in the order given (`t=<t>,v1=<new>,v1=<old>` during a rotation's overlap).
 */
export function signatureHeader(secrets: string | readonly string[], body: string, unixSeconds: number): string {
  const t = Math.floor(unixSeconds);
  const list = typeof secrets === 'string' ? [secrets] : secrets;
  const v1s = list.map((secret) => `v1=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}`);
  return `t=${t},${v1s.join(',')}`;
}

/** Delay before the next attempt, after `attempts` failed ones (1 → 1 s, 2 → 2 s, 3 → 4 s, ...). */
export function retryDelayMs(attempts: number): number {
  return FIRST_RETRY_DELAY_MS * 2 ** Math.max(0, attempts - 1);
}

/** Stable across retries of one delivery: derived from its outbox row only. */
export function deliveryIdOf(rowId: number): string {
  return `dlv_${rowId}`;
}

export type AttemptOutcome = 'delivered' | 'retry' | 'failed';

/** After a failed attempt of a row that had `attempts`: retried after the backoff, or failed once they are spent. */
export function failedAttemptOf(
  attempts: number,
  now: number,
): { outcome: 'retry'; retryAt: number } | { outcome: 'failed'; retryAt: null } {
  const made = attempts + 1;
  return made >= MAX_DELIVERY_ATTEMPTS
    ? { outcome: 'failed', retryAt: null }
    : { outcome: 'retry', retryAt: now + retryDelayMs(made) };
}
