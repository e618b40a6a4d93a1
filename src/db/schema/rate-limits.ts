import { integer, primaryKey, sqliteTable } from 'drizzle-orm/sqlite-core';

/**
 * Relay submits per API key per minute window, counted in the database so that every process
 * (and every replica on a shared database) enforces one limit. Old windows are swept.
 */
export const rateLimitWindows = sqliteTable(
  'rate_limit_windows',
  {
    tokenId: integer('token_id').notNull(),
    windowStart: integer('window_start').notNull(),
    count: integer('count').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.tokenId, t.windowStart] })],
);
