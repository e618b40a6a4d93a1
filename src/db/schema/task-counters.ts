import { integer, primaryKey, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/**
 * Row counts of `tasks` per scope ('all' / 'user' / 'channel'), kept by triggers (migration
 * 0001) so listing totals stay exact and O(1) even when rows are written with plain SQL.
 */
export const taskCounters = sqliteTable(
  'task_counters',
  {
    scope: text('scope').notNull(),
    scopeId: integer('scope_id').notNull(),
    count: integer('count').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.scope, t.scopeId] })],
);
