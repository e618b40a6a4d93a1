import { integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/**
 * Named leases in the database: the poller's leadership among processes sharing the database.
 * The holder renews `expires_at`; anyone may take a lease whose time has passed.
 */
export const leases = sqliteTable('leases', {
  name: text('name').primaryKey(),
  holder: text('holder').notNull(),
  expiresAt: integer('expires_at').notNull(),
});
