import type { DB } from '../client.ts';
import { COUNT_OWNERS, COUNTED_COLUMNS, type CountedColumn } from '../listing-design.ts';
import { FILTER_COUNTS_DEFERRED_TABLE } from '../listing-sql-sqlite.ts';
import { perConnection } from '../prepared.ts';

/**
 * Filter counts of a batch of task writes, summed (SQLite). The filters' update trigger adds six
 * rows to task_filter_counts per status write, a third of a poll batch's cost; a batch writes the
 * same few moves a hundred times ('' → SUCCESS, one channel, one action). So a batch runs with that
 * trigger off (a row in FILTER_COUNTS_DEFERRED_TABLE, inside its transaction only), reads the
 * counted columns of its rows first (in the transaction, so exactly what its writes replace), and
 * adds each key's sum once for the writes that won. A trigger that does not fire costs almost
 * nothing; one that fires and finds nothing to do costs most of what its upserts would.
 */

const OWNER_COLUMNS = COUNT_OWNERS.flatMap((o) => (o.column ? [o.column] : []));
const READ_COLUMNS = [...new Set([...OWNER_COLUMNS, ...COUNTED_COLUMNS])];
const KEY_COLUMNS = ['owner', 'owner_id', ...COUNTED_COLUMNS];

type CountedRow = { id: number } & Record<string, string | number | null>;

/** The counted values a write gave one row, by counted column (status, action); absent: unchanged. */
export type CountedValues = Partial<Record<CountedColumn, string>>;

export interface FilterCountBatch {
  /**
   * Runs `write` (synchronous, inside the caller's transaction) with the filters' trigger off, then
   * adds the moves `moved` reports from its result: each row of `ids` whose counted values changed,
   * read as they were before `write`. Nothing else may change a counted column in `write`.
   */
  around<T>(ids: readonly number[], write: () => T, moved: (result: T) => ReadonlyMap<number, CountedValues>): T;
}

export const filterCountBatch = perConnection((db: DB): FilterCountBatch => {
  const c = db.$client;
  const read = c.prepare<CountedRow, [string]>(
    `SELECT id, ${READ_COLUMNS.join(', ')} FROM tasks WHERE id IN (SELECT value FROM json_each(?))`,
  );
  const off = c.prepare(`INSERT INTO ${FILTER_COUNTS_DEFERRED_TABLE} (on_batch) VALUES (1)`);
  const on = c.prepare(`DELETE FROM ${FILTER_COUNTS_DEFERRED_TABLE}`);
  const picks = [...KEY_COLUMNS, 'count'].map((_, i) => `value ->> ${i}`).join(', ');
  // `WHERE true`: an upsert's SELECT needs a clause before ON CONFLICT to parse.
  const add = c.prepare<unknown, [string]>(
    `INSERT INTO task_filter_counts (${KEY_COLUMNS.join(', ')}, count) SELECT ${picks} FROM json_each(?) WHERE true
     ON CONFLICT (${KEY_COLUMNS.join(', ')}) DO UPDATE SET count = count + excluded.count`,
  );
  return {
    around(ids, write, moved) {
      if (ids.length === 0) return write();
      const before = read.all(JSON.stringify(ids));
      off.run();
      let result: ReturnType<typeof write>;
      try {
        result = write();
      } finally {
        on.run();
      }
      const changes = moved(result);
      // Rows summed by their whole counted key first (a batch has a handful), owners expanded after.
      const sums = new Map<string, { row: CountedRow; n: number }>();
      const tally = (row: CountedRow, n: 1 | -1) => {
        const key = READ_COLUMNS.map((col) => row[col]).join('\u0001');
        const s = sums.get(key);
        if (s) s.n += n;
        else sums.set(key, { row, n });
      };
      for (const old of before) {
        const to = changes.get(old.id);
        if (!to || COUNTED_COLUMNS.every((col) => to[col] === undefined || to[col] === old[col])) continue;
        tally(old, -1);
        tally({ ...old, ...to }, 1);
      }
      const byKey = new Map<string, unknown[]>();
      for (const { row, n } of sums.values()) {
        if (n === 0) continue;
        const counted = COUNTED_COLUMNS.map((col) => row[col]);
        for (const o of COUNT_OWNERS) {
          const key = [o.owner, o.column ? row[o.column] : 0, ...counted];
          const id = JSON.stringify(key);
          const had = byKey.get(id);
          if (had) had[key.length] = (had[key.length] as number) + n;
          else byKey.set(id, [...key, n]);
        }
      }
      if (byKey.size > 0) add.run(JSON.stringify([...byKey.values()]));
      return result;
    },
  };
});
