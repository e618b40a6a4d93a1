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

/**
 * Row counts of `tasks` per owner ('all' / 'channel' / 'user') and counted value (status, action):
 * the totals of the status and action filters (src/db/listing-design.ts declares the columns and
 * generates the triggers). Rebuilt WITHOUT ROWID by its trigger migration, keyed by its natural key.
 */
export const taskFilterCounts = sqliteTable(
  'task_filter_counts',
  {
    owner: text('owner').notNull(),
    ownerId: integer('owner_id').notNull(),
    status: text('status').notNull(),
    action: text('action').notNull(),
    count: integer('count').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.owner, t.ownerId, t.status, t.action] })],
);
