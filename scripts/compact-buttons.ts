/**
 * Stores the `buttons` of existing task rows in their compact form where a template reproduces
 * them (SQLite; src/db/sqlite/button-sets.ts). Safe while the gateway runs; every read gives the
 * same text before and after. Pages freed inside the table are reused by new rows; `VACUUM` (with
 * the gateway stopped) returns them to the file system.
 * Usage: bun scripts/compact-buttons.ts <database file>
 */
import { openDatabase } from '../src/db/client.ts';
import { compactStoredButtons } from '../src/db/sqlite/button-sets.ts';

const path = process.argv[2];
if (!path) {
  console.error('usage: bun scripts/compact-buttons.ts <database file>');
  process.exit(2);
}
const db = openDatabase(path);
const t0 = performance.now();
const { scanned, compacted } = compactStoredButtons(db.$client);
console.log(`${compacted} of ${scanned} rows with long buttons stored compact in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
db.$client.close();
