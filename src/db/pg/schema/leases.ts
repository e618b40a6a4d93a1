import { bigint, pgTable, text } from 'drizzle-orm/pg-core';

/** Named leases (the poller's leadership): the holder renews `expires_at` before it passes. */
export const leases = pgTable('leases', {
  name: text('name').primaryKey(),
  holder: text('holder').notNull(),
  expiresAt: bigint('expires_at', { mode: 'number' }).notNull(),
});
