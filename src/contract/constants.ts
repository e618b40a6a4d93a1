/**
 * The stored codes of roles and statuses, the same in every dialect (the columns hold these
 * numbers and strings). Both adapters and the domain read them from here.
 */

export const ROLE = { common: 1, admin: 10, root: 100 } as const;
export const USER_STATUS = { enabled: 1, disabled: 2 } as const;
export const TOKEN_STATUS = { enabled: 1, disabled: 2, expired: 3, exhausted: 4 } as const;
export const CHANNEL_STATUS = { enabled: 1, manuallyDisabled: 2, autoDisabled: 3 } as const;
export const LOG_TYPE = { consume: 2, system: 4, refund: 6, carryForward: 7 } as const;
/**
 * How each log type counts in a balance rebuilt from the logs alone (SPEC §4): a consume row takes
 * its quota, system rows (signed admin deltas), refunds and carry-forward rows (SPEC §17) add
 * theirs; any other type counts for nothing.
 */
export const LOG_BALANCE_SIGN: Readonly<Record<number, 1 | -1>> = Object.freeze({
  [LOG_TYPE.consume]: -1,
  [LOG_TYPE.system]: 1,
  [LOG_TYPE.refund]: 1,
  [LOG_TYPE.carryForward]: 1,
});
/** A log row's signed share of its user's balance (LOG_BALANCE_SIGN). */
export const signedLogQuota = (type: number, quota: number): number => (LOG_BALANCE_SIGN[type] ?? 0) * quota;
/** The same as SQL over a row's `type` and `quota` columns, for both dialects. */
export const SIGNED_LOG_QUOTA_SQL = `(CASE type ${Object.entries(LOG_BALANCE_SIGN)
  .map(([type, sign]) => `WHEN ${type} THEN ${sign < 0 ? '-' : ''}quota`)
  .join(' ')} ELSE 0 END)`;
/** The relay's per-key submit limit counts submits in fixed windows of this length (SPEC §15). */
export const RATE_LIMIT_WINDOW_MS = 60_000;

export const DELIVERY_STATUS = { pending: 'pending', delivered: 'delivered', failed: 'failed' } as const;

export type DeliveryStatus = (typeof DELIVERY_STATUS)[keyof typeof DELIVERY_STATUS];
