import postgres from 'postgres';
import { openPgDatabase, type PgDB } from '../../src/db/pg/client.ts';
import { startScriptService } from './script-service.ts';

/**
 * The PostgreSQL server of the suite: `scripts/test.sh` starts one private cluster and passes
 * its URL as TEST_DATABASE_URL; a file run alone (`bun test file`) starts its own through the
 * same script and stops it when the file ends. Each test database is fresh and dropped after.
 */
let serverUrl: Promise<string> | null = null;

export function pgServerUrl(): Promise<string> {
  serverUrl ??= Promise.resolve(
    process.env.TEST_DATABASE_URL ||
      startScriptService('pg-cluster.sh', 'MJ_PG_OWNER_PID', 'PGDIR', 'a private PostgreSQL cluster').DATABASE_URL!,
  );
  return serverUrl;
}

export interface TempPg {
  url: string;
  db: PgDB;
  cleanup: () => Promise<void>;
}

/** A fresh, empty database on the suite's server (migrated by whoever opens it); `drop` removes it. */
export async function freshPgDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const server = await pgServerUrl();
  const name = `mjgw_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = postgres(server, { max: 1, onnotice: () => {} });
  await admin.unsafe(`CREATE DATABASE ${name}`);
  return {
    url: server.replace(/\/[^/]*$/, `/${name}`),
    drop: async () => {
      await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end({ timeout: 1 });
    },
  };
}

/** A fresh database on the suite's server, migrated by the real migrator. */
export async function tempPg(opts: { poolSize?: number } = {}): Promise<TempPg> {
  const { url, drop } = await freshPgDatabase();
  const db = await openPgDatabase(url, { poolSize: opts.poolSize ?? 4 });
  return {
    url,
    db,
    cleanup: async () => {
      await db.$client.end({ timeout: 1 });
      await drop();
    },
  };
}
