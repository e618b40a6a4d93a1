import { Database } from 'bun:sqlite';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { type BunSQLiteDatabase, drizzle } from 'drizzle-orm/bun-sqlite';
import { migrate } from 'drizzle-orm/bun-sqlite/migrator';
import * as schema from './schema/index.ts';

export type DB = BunSQLiteDatabase<typeof schema> & { $client: Database };

/** Anchored to this file, so migrations are found whatever the working directory. */
export const MIGRATIONS_FOLDER = join(import.meta.dir, '../../drizzle');

/**
 * Page size of a new file. A WAL commit writes every page it changed whole, and a submit changes
 * ~24 b-trees (the task, its indexes, the consume log and its indexes, the rollups, the balances):
 * 2 KiB pages halve its WAL bytes (98 → 48 KiB). Rows fit since `buttons` is stored compact
 * (~450 B a row). An existing file keeps its own size until rewritten (repageDatabase).
 */
export const SQLITE_PAGE_SIZE = 2048;

type FileSize = { pageSize: number; bytes: number };

function fileSize(sqlite: Database): FileSize {
  const pageSize = sqlite.query<{ page_size: number }, []>('PRAGMA page_size').get()?.page_size ?? 0;
  const pages = sqlite.query<{ page_count: number }, []>('PRAGMA page_count').get()?.page_count ?? 0;
  return { pageSize, bytes: pageSize * pages };
}

/**
 * Rewrites the whole file with SQLITE_PAGE_SIZE pages (VACUUM, which needs the rollback journal
 * for a page size change), then returns to WAL. Only with no other connection open.
 */
export function repageDatabase(sqlite: Database): { before: FileSize; after: FileSize } {
  const before = fileSize(sqlite);
  sqlite.exec('PRAGMA wal_checkpoint(TRUNCATE);');
  sqlite.exec('PRAGMA journal_mode = DELETE;');
  sqlite.exec(`PRAGMA page_size = ${SQLITE_PAGE_SIZE};`);
  sqlite.exec('VACUUM;');
  sqlite.exec('PRAGMA journal_mode = WAL;');
  return { before, after: fileSize(sqlite) };
}

/**
 * Open (creating the parent folder), set the pragmas every connection needs, and apply pending
 * migrations. Safe to call on an already migrated file, and from several processes.
 */
export function openDatabase(path: string): DB {
  if (path !== ':memory:' && !path.startsWith('file:')) mkdirSync(dirname(path), { recursive: true });
  const sqlite = new Database(path, { create: true, strict: true });
  sqlite.exec('PRAGMA busy_timeout = 5000;');
  sqlite.exec(`PRAGMA page_size = ${SQLITE_PAGE_SIZE};`);
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
