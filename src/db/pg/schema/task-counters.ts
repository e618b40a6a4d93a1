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

/** Row counts per owner and counted value (status, action), in slots: see src/db/listing-design.ts. */
export const taskFilterCounts = pgTable(
  'task_filter_counts',
  {
    owner: text('owner').notNull(),
    ownerId: integer('owner_id').notNull(),
    status: text('status').notNull(),
    action: text('action').notNull(),
    slot: smallint('slot').notNull().default(0),
    count: bigint('count', { mode: 'number' }).notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.owner, t.ownerId, t.status, t.action, t.slot] })],
);
