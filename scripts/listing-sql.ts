/**
 * Prints a generated listing migration (src/db/listing-design.ts) for one dialect, to fill the
 * custom migration drizzle-kit prepared: `bun scripts/listing-sql.ts <kind> > <file>`.
 *   sqlite, pg            the counted filters' table backfill and triggers (drizzle/0016, drizzle/pg/0012)
 *   sqlite-triggers       SQLite's listing triggers, one per insert and delete (drizzle/0022; 0018 and 0020 earlier versions)
 *   pg-triggers           PostgreSQL's listing trigger functions, one trigger per kind of write (drizzle/pg/0014; 0013 the first version)
 */
import { pgFilterCountSql, sqliteFilterCountSql } from '../src/db/listing-design.ts';
import { pgListingTriggersSql } from '../src/db/listing-sql-pg.ts';
import { sqliteListingTriggersSql } from '../src/db/listing-sql-sqlite.ts';

const kinds: Record<string, () => string> = {
  sqlite: sqliteFilterCountSql,
  pg: pgFilterCountSql,
  'sqlite-triggers': sqliteListingTriggersSql,
  'pg-triggers': pgListingTriggersSql,
};
const make = kinds[process.argv[2] ?? ''];
if (!make) {
  console.error(`usage: bun scripts/listing-sql.ts ${Object.keys(kinds).join('|')}`);
  process.exit(2);
}
process.stdout.write(`${make()}\n`);
