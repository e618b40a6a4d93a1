/**
 * Prints the generated trigger migration of the listing's counted filters for one dialect
 * (src/db/listing-design.ts): `bun scripts/listing-sql.ts sqlite|pg > <the custom migration file>`.
 */
import { pgFilterCountSql, sqliteFilterCountSql } from '../src/db/listing-design.ts';

const dialect = process.argv[2];
if (dialect !== 'sqlite' && dialect !== 'pg') {
  console.error('usage: bun scripts/listing-sql.ts sqlite|pg');
  process.exit(2);
}
process.stdout.write(`${dialect === 'sqlite' ? sqliteFilterCountSql() : pgFilterCountSql()}\n`);
