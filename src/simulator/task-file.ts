import { Database, type Statement } from 'bun:sqlite';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { SimTask } from './types.ts';

/**
 * Optional on-disk copy of the simulator's tasks (a small SQLite file), so a DEMO gateway that
 * restarts still answers for the tasks and serves the images it made before. Tasks are stored as
 * JSON: they are only the facts fixed at submit (state is derived from the clock on read).
 */
export class TaskFile {
  private readonly db: Database;
  private readonly putStmt: Statement;
  private readonly deleteStmt: Statement;

  constructor(path: string) {
    mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path, { create: true });
    this.db.run('PRAGMA journal_mode = WAL');
    this.db.run('PRAGMA busy_timeout = 5000');
    this.db.run(
      'CREATE TABLE IF NOT EXISTS sim_tasks (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, task TEXT NOT NULL)',
    );
    this.putStmt = this.db.prepare(
      'INSERT INTO sim_tasks (id, task) VALUES (?1, ?2) ON CONFLICT(id) DO UPDATE SET task = excluded.task',
    );
    this.deleteStmt = this.db.prepare('DELETE FROM sim_tasks WHERE id = ?1');
  }

  /** The newest `limit` tasks, oldest first (the store's insertion order). */
  load(limit: number): SimTask[] {
    const rows = this.db
      .query<{ task: string }, [number]>(
        'SELECT task FROM (SELECT seq, task FROM sim_tasks ORDER BY seq DESC LIMIT ?1) ORDER BY seq ASC',
      )
      .all(limit);
    const out: SimTask[] = [];
    for (const row of rows) {
      try {
        out.push(JSON.parse(row.task) as SimTask);
      } catch {
        // A damaged row only loses that task.
      }
    }
    return out;
  }

  put(task: SimTask): void {
    this.putStmt.run(task.id, JSON.stringify(task));
  }

  delete(id: string): void {
    this.deleteStmt.run(id);
  }

  clear(): void {
    this.db.run('DELETE FROM sim_tasks');
  }

  close(): void {
    this.db.close();
  }
}
