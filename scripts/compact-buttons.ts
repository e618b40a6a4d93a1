/**
 * Stores the `buttons` of existing task rows in their compact form where a template reproduces
 * them (SQLite; src/db/sqlite/button-sets.ts). Safe while the gateway runs; every read gives the
 * same text before and after. Pages freed inside the table are reused by new rows.
 * With `--vacuum` (gateway stopped) it then rewrites the file with the page size new files get
 * (src/db/client.ts), returning the freed pages to the file system.
 * Usage: bun scripts/compact-buttons.ts <database file> [--vacuum]
 */
import { openDatabase, repageDatabase } from '../src/db/client.ts';
import { compactStoredButtons } from '../src/db/sqlite/button-sets.ts';

const path = process.argv[2];
if (!path || path.startsWith('--')) {
  console.error('usage: bun scripts/compact-buttons.ts <database file> [--vacuum]');
  process.exit(2);
}
const db = openDatabase(path);
const t0 = performance.now();
const { scanned, compacted } = compactStoredButtons(db.$client);
console.log(
  `${compacted} of ${scanned} rows with long buttons stored compact in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
);
if (process.argv.includes('--vacuum')) {
  const t1 = performance.now();
  const { before, after } = repageDatabase(db.$client);
  console.log(
    `rewritten with ${after.pageSize} B pages: ${(before.bytes / 1048576).toFixed(1)} → ${(after.bytes / 1048576).toFixed(1)} MiB in ${((performance.now() - t1) / 1000).toFixed(1)} s`,
  );
}
db.$client.close();
