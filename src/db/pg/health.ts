import type { PgDB } from './client.ts';

/**
 * Outage detection for the PostgreSQL backend (SPEC §13): while the server is unreachable every
 * surface answers 503 `database unavailable` within 5 s, /healthz answers 503 and the poller skips
 * ticks; when it returns, the same pool reconnects by itself (postgres.js opens connections on
 * demand, so nothing is re-created).
 *
 * The bound on a request's wait is the pool's `connect_timeout` (openPgDatabase's connectTimeoutS,
 * 5 s by default): with the server down, a query fails with ECONNREFUSED at once or with
 * CONNECT_TIMEOUT when packets are dropped. `pingDatabase` adds its own timer for the one case
 * connect_timeout does not cover: a connection that is open but whose server no longer answers.
 */

/** The one error every surface maps to its 503 envelope; the message names no host, user or password. */
export class DatabaseUnavailable extends Error {
  override readonly name = 'DatabaseUnavailable';
  /** The driver's code (ECONNREFUSED, CONNECT_TIMEOUT, 57P01, …), for logs and metrics. */
  readonly reason: string;
  constructor(reason: string) {
    super('database unavailable');
    this.reason = reason;
  }
}

/** Socket errors (Node and Bun codes) and postgres.js connection errors that mean "not reachable". */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'CONNECT_TIMEOUT',
  'CONNECTION_CLOSED',
  'CONNECTION_DESTROYED',
  'CONNECTION_ENDED',
]);

/**
 * SQLSTATEs of a server that is going away, starting up or out of connections: class 08
 * (connection exception), 57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now,
 * 53300 too many connections. Query errors (23505 unique violation, 23514 check violation, 40001
 * serialization failure, …) are the caller's to handle and are not outages.
 */
function unreachableState(code: string): boolean {
  return /^08[0-9A-Z]{3}$/.test(code) || code === '57P01' || code === '57P02' || code === '57P03' || code === '53300';
}

/** The error's code, looking through wrappers (drizzle's DrizzleQueryError keeps the driver's error as `cause`). */
function codeOf(err: unknown): string | null {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof DatabaseUnavailable) return e.reason;
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && (UNREACHABLE_CODES.has(code) || unreachableState(code))) return code;
  }
  return null;
}

/** True when `err` means the database could not be reached, rather than that a query was refused. */
export function isUnavailableError(err: unknown): boolean {
  return codeOf(err) !== null;
}

/**
 * Whether an error nothing caught may be survived (src/lib/process-faults.ts): an outage error, or
 * one thrown inside postgres.js itself (its connection's state is its own and it reconnects).
 */
export function isRecoverableDriverFault(err: unknown): boolean {
  if (isUnavailableError(err)) return true;
  if (!(err instanceof Error)) return false;
  return err.name === 'PostgresError' || /[\\/]node_modules[\\/]postgres[\\/]/.test(err.stack ?? '');
}

/**
 * Run `fn`; an outage error comes out as DatabaseUnavailable, any other error unchanged. The
 * surfaces catch DatabaseUnavailable once, in their error mapping, and answer 503.
 */
export async function withAvailability<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const code = codeOf(err);
    if (code !== null) throw err instanceof DatabaseUnavailable ? err : new DatabaseUnavailable(code);
    throw err;
  }
}

/**
 * Whether the server answers `SELECT 1` within `timeoutMs`. Never throws. A ping that times out
 * leaves its query to fail or finish on its own (its result is ignored).
 */
export async function pingDatabase(db: Pick<PgDB, '$client'>, timeoutMs: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  const query = db.$client`SELECT 1 AS ok`.then(
    (rows) => rows[0]?.ok === 1,
    () => false,
  );
  try {
    return await Promise.race([query, timedOut]);
  } finally {
    clearTimeout(timer);
  }
}
