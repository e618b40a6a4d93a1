import { Database } from 'bun:sqlite';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { drizzle, type BunSQLiteDatabase } from 'drizzle-orm/bun-sqlite';
import { migrate } from 'drizzle-orm/bun-sqlite/migrator';
import * as schema from './schema/index.ts';

export type DB = BunSQLiteDatabase<typeof schema> & { $client: Database };

/** Anchored to this file, so migrations are found whatever the working directory. */
export const MIGRATIONS_FOLDER = join(import.meta.dir, '../../drizzle');

/**
 * Open (creating the parent folder), set the pragmas every connection needs, and apply pending
 * migrations. Safe to call on an already migrated file, and from several processes.
 */
export function openDatabase(path: string): DB {
  if (path !== ':memory:' && !path.startsWith('file:')) mkdirSync(dirname(path), { recursive: true });
  const sqlite = new Database(path, { create: true, strict: true });
  sqlite.exec('PRAGMA busy_timeout = 5000;');
  sqlite.exec('PRAGMA journal_mode = WAL;');
  sqlite.exec('PRAGMA synchronous = NORMAL;');
  sqlite.exec('PRAGMA foreign_keys = ON;');
  // REPLACE deletes the row it replaces; only with this do the delete triggers that keep the
  // task counters exact see that delete.
  sqlite.exec('PRAGMA recursive_triggers = ON;');
  const db = drizzle({ client: sqlite, schema }) as DB;
  migrate(db, { migrationsFolder: MIGRATIONS_FOLDER });
  return db;
}

export { schema };
