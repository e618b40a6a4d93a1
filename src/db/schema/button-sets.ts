import { integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/**
 * SQLite only: the templates of the upstream's `buttons` JSON (one per shape of button set, the
 * job hash replaced by `{{job}}`). A task row may hold `{"set":<id>,"job":"<hash>"}` in `buttons`
 * instead of the whole text, only where expanding it gives the original text byte for byte
 * (src/db/sqlite/button-sets.ts). Rows are never updated or deleted, so a process may cache them.
 */
export const buttonSets = sqliteTable('button_sets', {
  id: integer('id').primaryKey(),
  body: text('body').notNull().unique(),
});
