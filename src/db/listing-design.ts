/**
 * The counted filters of the task listing, declared once for both databases. A listing total with
 * `status` and/or `action` (SPEC §6.1) is a sum over one owner's rows of `task_filter_counts`:
 * one row per (owner, every counted column's value), kept by triggers that this file generates for
 * each dialect. Both migrations (drizzle/*_filter_count_triggers.sql and its drizzle/pg twin) are
 * committed as generated here; tests/unit/listing-design.test.ts fails when they disagree.
 *
 * Why a matrix per owner and not a counter per filter: a task insert upserts one row per owner (3)
 * instead of one per filter combination (3 × 2^columns), and one owner's rows are contiguous in the
 * primary key, so SQLite writes one page per owner. A filter's total sums at most
 * |statuses| × |actions| rows of one owner. Combined with a time range, an mj_id or both a user and
 * a channel, a filter counts through its index instead (exact, not O(1)).
 *
 * Adding a counted filter: one entry in COUNTED_COLUMNS (a text column of `tasks`), the query
 * parameter (domain/task-query.ts), then `bun run db:generate` and `db:generate:pg` (the table
 * gains the column) and a custom migration of each dialect filled from `scripts/listing-sql.ts`.
 */

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

/**
 * The time buckets each dialect's hand-written triggers keep (task_time_buckets, per scope: all,
 * channel, user), coarsest first, and one level of 1024-id blocks (task_id_blocks) on both. They
 * differ by a measured reason: PostgreSQL counts a range's two partial edge hours through its
 * submit_time indexes within the listing budget, while each bucket level costs server CPU on every
 * submit (drizzle/pg 0009 dropped its 16-day level and went from 18 to 12 upserted rows per
 * insert); SQLite's edge counts are row reads on the main thread or a worker, so it keeps minutes
 * and counts at most two partial minutes.
 */
export const BUCKET_SPANS = { sqlite: [DAY, HOUR, MINUTE], pg: [DAY, HOUR] } as const;

/** Columns of `tasks` whose exact values a listing may filter by with an O(1)-ish total. */
export const COUNTED_COLUMNS = ['status', 'action'] as const;
export type CountedColumn = (typeof COUNTED_COLUMNS)[number];

/** Whose rows a count is of, in key order; `column` is the task column holding the owner id. */
export const COUNT_OWNERS = [
  { owner: 'all', column: null },
  { owner: 'channel', column: 'channel_id' },
  { owner: 'user', column: 'user_id' },
] as const;
export type CountOwner = (typeof COUNT_OWNERS)[number]['owner'];

/** PostgreSQL spreads each count over this many slots (task id modulo) so submits don't queue on one row. */
export const PG_COUNT_SLOTS = 8;

const BREAK = '\n--> statement-breakpoint\n';
const keyCols = ['owner', 'owner_id', ...COUNTED_COLUMNS];
const moved = ['user_id', 'channel_id', ...COUNTED_COLUMNS];

function ownerRows(ref: string, delta: string, slot: string | null): string {
  return COUNT_OWNERS.map((o) => {
    const values = [
      `'${o.owner}'`,
      o.column ? `${ref}.${o.column}` : '0',
      ...COUNTED_COLUMNS.map((c) => `${ref}.${c}`),
    ];
    if (slot !== null) values.push(slot);
    return `(${[...values, delta].join(', ')})`;
  }).join(', ');
}

/** SQLite: the backfill and three row triggers (insert, delete, an update that moves a counted value). */
export function sqliteFilterCountSql(): string {
  const cols = keyCols.join(', ');
  const upsert = (rows: string) =>
    `  INSERT INTO task_filter_counts (${cols}, count) VALUES ${rows}\n` +
    `    ON CONFLICT (${cols}) DO UPDATE SET count = count + excluded.count;`;
  const backfill = COUNT_OWNERS.map((o) => {
    const id = o.column ?? '0';
    const group = [...(o.column ? [o.column] : []), ...COUNTED_COLUMNS].join(', ');
    return (
      `INSERT INTO task_filter_counts (${cols}, count)\n` +
      `  SELECT '${o.owner}', ${id}, ${COUNTED_COLUMNS.join(', ')}, count(*) FROM tasks GROUP BY ${group};`
    );
  });
  const changed = moved.map((c) => `OLD.${c} IS NOT NEW.${c}`).join(' OR ');
  // drizzle-kit cannot declare WITHOUT ROWID: the (empty) table it made is made again here.
  const table =
    `CREATE TABLE task_filter_counts (owner text NOT NULL, owner_id integer NOT NULL, ` +
    `${COUNTED_COLUMNS.map((c) => `${c} text NOT NULL`).join(', ')}, count integer DEFAULT 0 NOT NULL, ` +
    `PRIMARY KEY(${cols})) WITHOUT ROWID;`;
  return [
    '-- Generated from src/db/listing-design.ts (scripts/listing-sql.ts sqlite): do not edit.',
    'DROP TABLE task_filter_counts;',
    table,
    ...backfill,
    `CREATE TRIGGER tasks_filter_counts_insert AFTER INSERT ON tasks BEGIN\n${upsert(ownerRows('NEW', '1', null))}\nEND;`,
    `CREATE TRIGGER tasks_filter_counts_delete AFTER DELETE ON tasks BEGIN\n${upsert(ownerRows('OLD', '-1', null))}\nEND;`,
    `CREATE TRIGGER tasks_filter_counts_update AFTER UPDATE OF ${moved.join(', ')} ON tasks WHEN ${changed} BEGIN\n` +
      `${upsert(ownerRows('OLD', '-1', null))}\n${upsert(ownerRows('NEW', '1', null))}\nEND;`,
  ]
    .join(BREAK)
    .replace('do not edit.\n--> statement-breakpoint\n', 'do not edit.\n');
}

/**
 * PostgreSQL: the backfill, one PL/pgSQL function per event over the statement's transition table
 * (a multi-row write is grouped and applied in key order, so concurrent writers cannot deadlock on
 * these rows), and a one-row update that moves no counted value returns after two reads.
 */
export function pgFilterCountSql(): string {
  const cols = [...keyCols, 'slot'].join(', ');
  const slotOf = (ref: string) => `(${ref}.id % ${PG_COUNT_SLOTS})::smallint`;
  const lateral = COUNT_OWNERS.map((o) => `('${o.owner}', ${o.column ? `r.${o.column}` : '0'})`).join(', ');
  const groupBy = `1, 2, ${COUNTED_COLUMNS.map((_, i) => i + 3).join(', ')}, ${COUNTED_COLUMNS.length + 3}`;
  const conflict = `  ON CONFLICT (${cols}) DO UPDATE SET count = b.count + EXCLUDED.count;`;
  const select = (source: string, sign: string) =>
    `  INSERT INTO task_filter_counts AS b (${cols}, count)\n` +
    `  SELECT o.owner, o.owner_id, ${COUNTED_COLUMNS.map((c) => `r.${c}`).join(', ')}, ${slotOf('r')}, ${sign}count(*)\n` +
    `  FROM ${source} r CROSS JOIN LATERAL (VALUES ${lateral}) AS o(owner, owner_id)\n` +
    `  GROUP BY ${groupBy}\n  ORDER BY ${groupBy}`;
  const apply = (source: string, sign: string) => `${select(source, sign)}\n${conflict}`;
  const fn = (name: string, body: string) =>
    `CREATE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n${body}\n  RETURN NULL;\nEND $$;`;
  const tuple = (ref: string) => `(${['id', ...moved].map((c) => `${ref}.${c}`).join(', ')})`;
  const movedList = ['id', ...moved].join(', ');
  const update =
    `  IF (SELECT count(*) FROM old_rows) = 1 AND\n` +
    `     (SELECT ${tuple('o')} FROM old_rows o) IS NOT DISTINCT FROM (SELECT ${tuple('n')} FROM new_rows n) THEN\n` +
    `    RETURN NULL;\n  END IF;\n` +
    `  INSERT INTO task_filter_counts AS b (${cols}, count)\n` +
    `  SELECT o.owner, o.owner_id, ${COUNTED_COLUMNS.map((c) => `r.${c}`).join(', ')}, ${slotOf('r')}, sum(r.d)\n` +
    `  FROM ((SELECT ${movedList}, -1 AS d FROM old_rows EXCEPT ALL SELECT ${movedList}, -1 FROM new_rows)\n` +
    `        UNION ALL (SELECT ${movedList}, 1 AS d FROM new_rows EXCEPT ALL SELECT ${movedList}, 1 FROM old_rows)) r\n` +
    `  CROSS JOIN LATERAL (VALUES ${lateral}) AS o(owner, owner_id)\n` +
    `  GROUP BY ${groupBy}\n  HAVING sum(r.d) <> 0\n  ORDER BY ${groupBy}\n${conflict}`;
  const trigger = (event: string, name: string, refs: string) =>
    `CREATE TRIGGER ${name} AFTER ${event} ON tasks ${refs}FOR EACH STATEMENT EXECUTE FUNCTION ${name}();`;
  return [
    '-- Generated from src/db/listing-design.ts (scripts/listing-sql.ts pg): do not edit.',
    `${select('tasks', '').trimStart()};`,
    fn('tasks_filter_counts_insert', apply('new_rows', '')),
    fn('tasks_filter_counts_delete', apply('old_rows', '-')),
    fn('tasks_filter_counts_update', update),
    fn('tasks_filter_counts_truncate', '  DELETE FROM task_filter_counts;'),
    trigger('INSERT', 'tasks_filter_counts_insert', 'REFERENCING NEW TABLE AS new_rows '),
    trigger('DELETE', 'tasks_filter_counts_delete', 'REFERENCING OLD TABLE AS old_rows '),
    trigger('UPDATE', 'tasks_filter_counts_update', 'REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows '),
    trigger('TRUNCATE', 'tasks_filter_counts_truncate', ''),
  ]
    .join(BREAK)
    .replace('do not edit.\n--> statement-breakpoint\n', 'do not edit.\n');
}
