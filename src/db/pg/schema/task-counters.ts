import { bigint, integer, pgTable, primaryKey, smallint, text } from 'drizzle-orm/pg-core';

/**
 * Row counts of `tasks` per scope, kept by PL/pgSQL triggers. Each scope has several slots
 * (chosen by task id) summed on read, so concurrent submits do not queue on one hot row.
 */
export const taskCounters = pgTable(
  'task_counters',
  {
    scope: text('scope').notNull(),
    scopeId: integer('scope_id').notNull(),
    slot: smallint('slot').notNull().default(0),
    count: bigint('count', { mode: 'number' }).notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.scope, t.scopeId, t.slot] })],
);
