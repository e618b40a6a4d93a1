/**
 * Typed errors thrown by the domain; each edge (tRPC, REST, relay) maps the kind to its own
 * status from one table, so a domain function never knows about HTTP.
 */
export type AppErrorKind =
  | 'BAD_REQUEST'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'UNAVAILABLE'
  | 'UPSTREAM'
  | 'TIMEOUT'
  | 'RATE_LIMITED'
  /** An answer past what one answer may carry (SPEC §10): HTTP 413, tRPC PAYLOAD_TOO_LARGE. */
  | 'TOO_LARGE'
  /** The database cannot be reached (PostgreSQL down): `database unavailable`, HTTP 503. */
  | 'DATABASE';

export class AppError extends Error {
  constructor(
    readonly kind: AppErrorKind,
    message: string,
    /** Machine-readable code for the relay envelopes (e.g. `task_not_found`). */
    readonly code?: string,
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export const HTTP_STATUS_OF: Record<AppErrorKind, number> = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  UNAVAILABLE: 503,
  UPSTREAM: 502,
  TIMEOUT: 504,
  RATE_LIMITED: 429,
  TOO_LARGE: 413,
  DATABASE: 503,
};

/** The one message of an unreachable database, on every surface. */
export const DATABASE_UNAVAILABLE = 'database unavailable';

/** Whether `err` is the store's "database unavailable" (an outage: expected, retried, not a bug). */
export function isDatabaseUnavailable(err: unknown): boolean {
  return err instanceof AppError && err.kind === 'DATABASE';
}
