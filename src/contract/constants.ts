/**
 * The stored codes of roles and statuses, the same in every dialect (the columns hold these
 * numbers and strings). Both adapters and the domain read them from here.
 */

export const ROLE = { common: 1, admin: 10, root: 100 } as const;
export const USER_STATUS = { enabled: 1, disabled: 2 } as const;
export const TOKEN_STATUS = { enabled: 1, disabled: 2, expired: 3, exhausted: 4 } as const;
export const CHANNEL_STATUS = { enabled: 1, manuallyDisabled: 2, autoDisabled: 3 } as const;
export const LOG_TYPE = { consume: 2, system: 4, refund: 6 } as const;
/** The relay's per-key submit limit counts submits in fixed windows of this length (SPEC §15). */
export const RATE_LIMIT_WINDOW_MS = 60_000;

export const DELIVERY_STATUS = { pending: 'pending', delivered: 'delivered', failed: 'failed' } as const;

export type DeliveryStatus = (typeof DELIVERY_STATUS)[keyof typeof DELIVERY_STATUS];
