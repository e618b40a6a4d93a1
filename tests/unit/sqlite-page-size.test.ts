import { Database } from 'bun:sqlite';
import { afterAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, repageDatabase, SQLITE_PAGE_SIZE } from '../../src/db/client.ts';

const dir = mkdtempSync(join(tmpdir(), 'mj-page-size-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function pageSize(db: Database): number {
  return db.query<{ page_size: number }, []>('PRAGMA page_size').get()?.page_size ?? 0;
}

describe('SQLite page size', () => {
  test('a new file is made with 2 KiB pages, in WAL mode', () => {
    const db = openDatabase(join(dir, 'new.db'));
    expect(SQLITE_PAGE_SIZE).toBe(2048);
    expect(pageSize(db.$client)).toBe(2048);
    expect(db.$client.query<{ journal_mode: string }, []>('PRAGMA journal_mode').get()?.journal_mode).toBe('wal');
    db.$client.close();
  });

  test('an existing file keeps the page size it was made with', () => {
    const path = join(dir, 'old.db');
    const old = new Database(path, { create: true });
    old.exec('PRAGMA page_size = 4096; PRAGMA journal_mode = WAL; CREATE TABLE t (x INTEGER);');
    old.close();
    const db = openDatabase(path);
    expect(pageSize(db.$client)).toBe(4096);
    expect(db.$client.query<{ n: number }, []>('SELECT count(*) AS n FROM tasks').get()?.n).toBe(0);
    db.$client.close();
  });
});

describe('repageDatabase', () => {
  test('rewrites an old 4 KiB file with 2 KiB pages, keeping every row and WAL mode', () => {
    const path = join(dir, 'repage.db');
    const old = new Database(path, { create: true });
    old.exec('PRAGMA page_size = 4096; PRAGMA journal_mode = WAL;');
    old.close();
    const db = openDatabase(path);
    db.$client.exec(`INSERT INTO users (username, access_token, created_time) VALUES ('u1', 'tok-1', 1)`);
    const { before, after } = repageDatabase(db.$client);
    expect(before.pageSize).toBe(4096);
    expect(after.pageSize).toBe(2048);
    expect(pageSize(db.$client)).toBe(2048);
    expect(db.$client.query<{ journal_mode: string }, []>('PRAGMA journal_mode').get()?.journal_mode).toBe('wal');
    expect(
      db.$client
        .query<{ username: string }, []>('SELECT username FROM users')
        .all()
        .map((r) => r.username),
    ).toContain('u1');
    db.$client.close();
  });
});
