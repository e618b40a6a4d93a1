import type { OptionRow } from '../../contract/management.ts';
import type { PgDB } from './client.ts';

/** Option rows on PostgreSQL, with the semantics of src/db/sqlite/options.ts. */
export function pgOptions(db: PgDB) {
  const sql = db.$client;
  return {
    /**
     * Read every half second by each process's options watcher. `COLLATE "C"` orders by bytes as
     * SQLite's BINARY does; the database's own collation (e.g. en_US) may order keys differently.
     */
    async all(): Promise<OptionRow[]> {
      return sql<OptionRow[]>`SELECT key, value FROM options ORDER BY key COLLATE "C"`;
    },
    /** One statement, so all rows or none; replicas inserting together keep the first row of each key. */
    async insertMissing(rows: readonly OptionRow[]): Promise<void> {
      if (rows.length === 0) return;
      await sql`INSERT INTO options (key, value)
        SELECT * FROM unnest(${rows.map((r) => r.key)}::text[], ${rows.map((r) => r.value)}::text[])
        ON CONFLICT (key) DO NOTHING`;
    },
    async upsert(row: OptionRow): Promise<void> {
      await sql`INSERT INTO options (key, value) VALUES (${row.key}::text, ${row.value}::text)
        ON CONFLICT (key) DO UPDATE SET value = excluded.value`;
    },
  };
}
