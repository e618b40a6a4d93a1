import { bigint, integer, pgTable, primaryKey } from 'drizzle-orm/pg-core';

/** Relay submits per API key per minute window, shared by every replica. */
export const rateLimitWindows = pgTable(
  'rate_limit_windows',
  {
    tokenId: integer('token_id').notNull(),
    windowStart: bigint('window_start', { mode: 'number' }).notNull(),
    count: integer('count').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.tokenId, t.windowStart] })],
);
