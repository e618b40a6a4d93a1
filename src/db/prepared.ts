import type { Database, Statement } from 'bun:sqlite';
import type { DB } from './client.ts';

const cache = new WeakMap<Database, Map<string, Statement>>();

/**
 * A bun:sqlite statement compiled once per connection and reused: hot paths call this with a
 * constant SQL string, so the per-request cost is one Map lookup instead of a `prepare`.
 */
export function prepared<Row = unknown>(db: DB, sqlText: string): Statement<Row> {
  const client = db.$client;
  let byText = cache.get(client);
  if (!byText) cache.set(client, (byText = new Map()));
  let stmt = byText.get(sqlText);
  if (!stmt) byText.set(sqlText, (stmt = client.prepare(sqlText)));
  return stmt as Statement<Row>;
}

/** `build(db)` made once per connection and kept with it: prepared statements, a store of them. */
export function perConnection<T>(build: (db: DB) => T): (db: DB) => T {
  const cache = new WeakMap<DB, T>();
  return (db) => {
    let value = cache.get(db);
    if (value === undefined) cache.set(db, (value = build(db)));
    return value;
  };
}
