import { Database } from 'bun:sqlite';
import { drizzle } from 'drizzle-orm/bun-sqlite';
import { type DB, schema } from './client.ts';

/**
 * A second connection to an already migrated file, for reads only (the listing workers): WAL
 * readers never block the writer, and `query_only` makes any write through it an error. It never
 * migrates; the process that owns the file did that before starting the readers.
 */
export function openReadOnlyDatabase(path: string): DB {
  const sqlite = new Database(path, { readwrite: true, create: false, strict: true });
  sqlite.exec('PRAGMA busy_timeout = 5000;');
  sqlite.exec('PRAGMA query_only = 1;');
  return drizzle({ client: sqlite, schema }) as DB;
}
