import { pgTable, text } from 'drizzle-orm/pg-core';

export const options = pgTable('options', {
  key: text('key').primaryKey(),
  value: text('value').notNull(),
});
