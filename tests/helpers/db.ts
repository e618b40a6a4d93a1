import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DB, openDatabase } from '../../src/db/client.ts';

/** A fresh SQLite file with the real migrations applied, in its own temp folder. */
export function tempDb(): { db: DB; path: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'mjgw-'));
  const path = join(dir, 'test.db');
  const db = openDatabase(path);
  return {
    db,
    path,
    cleanup: () => {
      try {
        db.$client.close();
      } catch {
        // already closed
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** In-memory database with the real migrations (unit tests). */
export function memoryDb(): DB {
  return openDatabase(':memory:');
}
