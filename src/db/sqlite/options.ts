import type { OptionRow } from '../../contract/management.ts';
import type { DB } from '../client.ts';
import { options } from '../schema/index.ts';

export function sqliteOptions(db: DB) {
  // Read every half second by the options watcher of each process: prepared once.
  const all = db.select({ key: options.key, value: options.value }).from(options).orderBy(options.key).prepare();
  return {
    async all(): Promise<OptionRow[]> {
      return all.all();
    },
    async insertMissing(rows: readonly OptionRow[]): Promise<void> {
      db.transaction((tx) => {
        for (const row of rows) tx.insert(options).values(row).onConflictDoNothing().run();
      });
    },
    async upsert(row: OptionRow): Promise<void> {
      db.insert(options)
        .values(row)
        .onConflictDoUpdate({ target: options.key, set: { value: row.value } })
        .run();
    },
  };
}
