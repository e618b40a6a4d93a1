import { join } from 'node:path';
import { drizzle, type PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import postgres, { type Sql } from 'postgres';
import * as schema from './schema/index.ts';

export type PgDB = PostgresJsDatabase<typeof schema> & { $client: Sql };

/** Anchored to this file, so migrations are found whatever the working directory. */
export const PG_MIGRATIONS_FOLDER = join(import.meta.dir, '../../../drizzle/pg');

/** Any constant shared by every replica: the key of the advisory lock around the migrator. */
const MIGRATION_LOCK_KEY = 0x6d6a6777; // "mjgw"

/** A start-up failure of the PostgreSQL backend; its message never holds the password. */
export class DatabaseUrlError extends Error {}

/** The URL with its password replaced, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<unparsable URL>';
  }
}

export interface PgOptions {
  poolSize: number;
  /** Seconds to wait for a connection before a query fails (outages answer 503 within this). */
  connectTimeoutS?: number;
}

/**
 * Seconds before a connection is tried again after a failed one. postgres.js's default grows to
 * 20 s after a few failures, and every query of the pool waits it out: during an outage a request
 * would hang well past the 5 s the spec allows before failing, and after the server returns the
 * pool (and the LISTEN connection) would stay away for as long. Capped at half a second instead.
 */
export function reconnectBackoffS(retries: number): number {
  return Math.min(0.05 * 2 ** retries, 0.5) * (0.5 + Math.random() / 2);
}

function client(url: string, max: number, connectTimeoutS: number): Sql {
  return postgres(url, {
    max,
    connect_timeout: connectTimeoutS,
    backoff: reconnectBackoffS,
    idle_timeout: 60,
    onnotice: () => {},
    // ms times and quotas are bigint columns; JavaScript numbers hold them exactly up to 2^53.
    types: { bigint: { to: 20, from: [20], serialize: (v: number) => String(v), parse: (v: string) => Number(v) } },
  });
}

/**
 * Connect, check the server answers, and apply pending migrations under an advisory lock so
 * replicas starting at the same moment migrate once. Errors name DATABASE_URL, never the password.
 */
export async function openPgDatabase(url: string, opts: PgOptions): Promise<PgDB> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new DatabaseUrlError('DATABASE_URL is not a valid postgres:// URL');
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new DatabaseUrlError(`DATABASE_URL must start with postgres:// or postgresql:// (got ${parsed.protocol}//)`);
  }
  const connectTimeoutS = opts.connectTimeoutS ?? 5;
  const lockConn = client(url, 1, connectTimeoutS);
  try {
    await lockConn`SELECT pg_advisory_lock(${MIGRATION_LOCK_KEY})`;
    try {
      await migrate(drizzle({ client: lockConn, schema }), { migrationsFolder: PG_MIGRATIONS_FOLDER });
    } finally {
      await lockConn`SELECT pg_advisory_unlock(${MIGRATION_LOCK_KEY})`;
    }
  } catch (err) {
    await lockConn.end({ timeout: 1 }).catch(() => {});
    const reason = err instanceof Error ? err.message : String(err);
    throw new DatabaseUrlError(
      `DATABASE_URL ${redactUrl(url)} is not usable: ${reason.replaceAll(parsed.password || '\u0000', '***')}`,
    );
  }
  await lockConn.end({ timeout: 1 });
  const sql = client(url, opts.poolSize, connectTimeoutS);
  return drizzle({ client: sql, schema }) as PgDB;
}

export { schema as pgSchema };
