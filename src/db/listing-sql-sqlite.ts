import { BUCKET_SPANS, COUNT_OWNERS, COUNTED_COLUMNS } from './listing-design.ts';
import { ID_BLOCK } from './listing-plan.ts';

/**
 * SQLite's listing triggers, generated from the declaration (src/db/listing-design.ts): one
 * trigger per insert and per delete that keeps all four listing tables (task_counters,
 * task_time_buckets, task_id_blocks, task_filter_counts) with one multi-row upsert per table, and
 * two update triggers, each firing only when a column its tables count moves: the scope tables
 * (id, owner, channel, submit time) and the counted filters (owner, channel, status, action), so
 * the poller's status writes touch task_filter_counts alone, and not even that while a batch counts
 * its own moves (FILTER_COUNTS_DEFERRED_TABLE). Committed as drizzle/0022 (0018 and 0020 its
 * earlier versions; a test compares the newest); `bun scripts/listing-sql.ts sqlite-triggers`
 * prints it.
 */

const BREAK = '\n--> statement-breakpoint\n';
/** Triggers of earlier migrations this one replaces (0001, 0007, 0016), and its own names. */
const REPLACED = [
  'tasks_count_insert',
  'tasks_count_delete',
  'tasks_count_move_user',
  'tasks_count_move_channel',
  'tasks_buckets_insert',
  'tasks_buckets_delete',
  'tasks_buckets_update',
  'tasks_filter_counts_insert',
  'tasks_filter_counts_delete',
  'tasks_filter_counts_update',
  'tasks_listing_insert',
  'tasks_listing_delete',
  'tasks_listing_move',
  'tasks_listing_filters_move',
];

const ownerId = (ref: string, column: string | null) => (column ? `${ref}.${column}` : '0');
const bucketOf = (ref: string, span: number) =>
  `CASE WHEN ${ref}.submit_time >= 0 THEN ${ref}.submit_time / ${span} ELSE -1 END`;

/** The upserts that add `delta` (1 or -1) for the row `ref` (NEW or OLD) to every listing table. */
function upserts(ref: string, delta: 1 | -1, tables: 'scopes' | 'filters' | 'all'): string[] {
  const out: string[] = [];
  if (tables !== 'filters') {
    const counters = COUNT_OWNERS.map((o) => `('${o.owner}', ${ownerId(ref, o.column)}, ${delta})`);
    out.push(
      `  INSERT INTO task_counters (scope, scope_id, count) VALUES ${counters.join(', ')}\n` +
        '    ON CONFLICT (scope, scope_id) DO UPDATE SET count = count + excluded.count;',
    );
    const buckets = COUNT_OWNERS.flatMap((o) =>
      BUCKET_SPANS.sqlite.map(
        (span) =>
          `('${o.owner}', ${ownerId(ref, o.column)}, ${span}, ${bucketOf(ref, span)}, ${delta}, ${ref}.id, ${ref}.id)`,
      ),
    );
    out.push(
      `  INSERT INTO task_time_buckets (scope, scope_id, span, bucket, count, min_id, max_id) VALUES\n    ${buckets.join(',\n    ')}\n` +
        '    ON CONFLICT (scope, scope_id, span, bucket) DO UPDATE\n' +
        '    SET count = count + excluded.count, min_id = min(min_id, excluded.min_id), max_id = max(max_id, excluded.max_id);',
    );
    const blocks = COUNT_OWNERS.map(
      (o) => `('${o.owner}', ${ownerId(ref, o.column)}, ${ref}.id / ${ID_BLOCK}, ${delta})`,
    );
    out.push(
      `  INSERT INTO task_id_blocks (scope, scope_id, block, count) VALUES ${blocks.join(', ')}\n` +
        '    ON CONFLICT (scope, scope_id, block) DO UPDATE SET count = count + excluded.count;',
    );
  }
  if (tables !== 'scopes') {
    const cols = ['owner', 'owner_id', ...COUNTED_COLUMNS].join(', ');
    const rows = COUNT_OWNERS.map(
      (o) =>
        `('${o.owner}', ${ownerId(ref, o.column)}, ${COUNTED_COLUMNS.map((c) => `${ref}.${c}`).join(', ')}, ${delta})`,
    );
    out.push(
      `  INSERT INTO task_filter_counts (${cols}, count) VALUES ${rows.join(', ')}\n` +
        `    ON CONFLICT (${cols}) DO UPDATE SET count = count + excluded.count;`,
    );
  }
  return out;
}

/** The filter counts of an update as one upsert: the old row's three rows −1, the new row's +1. */
function filterMove(): string {
  const cols = ['owner', 'owner_id', ...COUNTED_COLUMNS].join(', ');
  const rows = (ref: string, delta: number) =>
    COUNT_OWNERS.map(
      (o) =>
        `('${o.owner}', ${ownerId(ref, o.column)}, ${COUNTED_COLUMNS.map((c) => `${ref}.${c}`).join(', ')}, ${delta})`,
    );
  return (
    `  INSERT INTO task_filter_counts (${cols}, count) VALUES ${[...rows('OLD', -1), ...rows('NEW', 1)].join(', ')}\n` +
    `    ON CONFLICT (${cols}) DO UPDATE SET count = count + excluded.count;`
  );
}

/**
 * The one-row table whose row, present only inside a transaction that then counts its own moves,
 * turns the filters' update trigger off (sqlite/filter-deltas.ts: a poll batch of 100 status
 * writes adds a few summed rows instead of 600 trigger upserts). Never committed with a row.
 */
export const FILTER_COUNTS_DEFERRED_TABLE = 'task_filter_counts_deferred';

function moveTrigger(name: string, columns: readonly string[], tables: 'scopes' | 'filters'): string {
  const changed = columns.map((c) => `OLD.${c} IS NOT NEW.${c}`).join(' OR ');
  // The poller's status writes fire the filters' trigger on every change: one statement, not two.
  const body = tables === 'filters' ? [filterMove()] : [...upserts('OLD', -1, tables), ...upserts('NEW', 1, tables)];
  const when =
    tables === 'filters' ? `(${changed}) AND NOT EXISTS (SELECT 1 FROM ${FILTER_COUNTS_DEFERRED_TABLE})` : changed;
  return `CREATE TRIGGER ${name} AFTER UPDATE OF ${columns.join(', ')} ON tasks WHEN ${when} BEGIN\n${body.join('\n')}\nEND;`;
}

export function sqliteListingTriggersSql(): string {
  const header =
    '-- Generated from src/db/listing-design.ts (bun scripts/listing-sql.ts sqlite-triggers): do not edit.\n';
  // One statement per breakpoint: the migrator runs the first statement of each piece only.
  const drops = REPLACED.map((t, i) => `${i === 0 ? header : ''}DROP TRIGGER IF EXISTS ${t};`);
  return [
    ...drops,
    `CREATE TABLE IF NOT EXISTS ${FILTER_COUNTS_DEFERRED_TABLE} (on_batch integer PRIMARY KEY NOT NULL CHECK (on_batch = 1)) WITHOUT ROWID;`,
    `CREATE TRIGGER tasks_listing_insert AFTER INSERT ON tasks BEGIN\n${upserts('NEW', 1, 'all').join('\n')}\nEND;`,
    `CREATE TRIGGER tasks_listing_delete AFTER DELETE ON tasks BEGIN\n${upserts('OLD', -1, 'all').join('\n')}\nEND;`,
    moveTrigger('tasks_listing_move', ['id', 'user_id', 'channel_id', 'submit_time'], 'scopes'),
    moveTrigger('tasks_listing_filters_move', ['user_id', 'channel_id', ...COUNTED_COLUMNS], 'filters'),
  ].join(BREAK);
}
