import { BUCKET_SPANS, COUNT_OWNERS, COUNTED_COLUMNS, PG_COUNT_SLOTS } from './listing-design.ts';
import { ID_BLOCK } from './listing-plan.ts';

/**
 * PostgreSQL's listing trigger functions, generated from the declaration (src/db/listing-design.ts):
 * one statement-level trigger per kind of write keeps all four listing tables. A one-row insert
 * (every submit) upserts plain VALUES; a one-row update that moves no counted column returns after
 * two reads, and one that moves only a counted filter value (the poller's status writes) upserts
 * six filter-count rows; anything else goes through the set-based apply functions, grouped and in
 * key order, so concurrent writers of any size cannot deadlock on these rows. Every VALUES list is
 * in key order too ('all' < 'channel' < 'user'). Committed as drizzle/pg/0014 (0013 its first version, whose one-row insert
 * upserted day before hour buckets and could deadlock with a multi-row insert; a test compares the newest);
 * `bun scripts/listing-sql.ts pg-triggers` prints it.
 */

const BREAK = '\n--> statement-breakpoint\n';
const SPANS = BUCKET_SPANS.pg;
const BLOCK_SHIFT = Math.log2(ID_BLOCK);
const FILTER_KEY = ['owner', 'owner_id', ...COUNTED_COLUMNS, 'slot'].join(', ');
const SCOPE_COLUMNS = ['id', 'user_id', 'channel_id', 'submit_time'];
const FILTER_COLUMNS = ['id', 'user_id', 'channel_id', ...COUNTED_COLUMNS];
const counted = (prefix: string) => COUNTED_COLUMNS.map((c) => `${prefix}${c}`);
const owners = (u: string, c: string) =>
  COUNT_OWNERS.map((o) => `('${o.owner}', ${o.column === 'user_id' ? u : o.column === 'channel_id' ? c : '0'})`).join(
    ', ',
  );

function fn(name: string, args: string, returns: string, declare: string[], body: string): string {
  const vars = declare.length ? `DECLARE\n${declare.map((d) => `  ${d};`).join('\n')}\n` : '';
  return `CREATE OR REPLACE FUNCTION ${name}(${args}) RETURNS ${returns} LANGUAGE plpgsql AS $$\n${vars}BEGIN\n${body}\nEND $$;`;
}

/** The set-based scope tables (counters, time buckets, id blocks) for arrays of rows and deltas. */
function scopeApply(): string {
  const lateral = `CROSS JOIN LATERAL (VALUES ${owners('r.u', 'r.c')}) AS s(scope, scope_id)`;
  const spans = SPANS.map((s) => `(${s})`).join(', ');
  return fn(
    'tasks_listing_apply',
    'p_id integer[], p_user integer[], p_channel integer[], p_time bigint[], p_delta integer[]',
    'void',
    [],
    `  INSERT INTO task_time_buckets (scope, scope_id, span, bucket, slot, count, min_id, max_id)
  SELECT s.scope, s.scope_id, sp.span, CASE WHEN r.t >= 0 THEN r.t / sp.span ELSE -1 END, (r.id % ${PG_COUNT_SLOTS})::smallint,
         sum(r.d)::bigint, min(r.id), max(r.id)
  FROM unnest(p_id, p_user, p_channel, p_time, p_delta) AS r(id, u, c, t, d)
  CROSS JOIN (VALUES ${spans}) AS sp(span)
  ${lateral}
  GROUP BY 1, 2, 3, 4, 5
  -- A slot that only gained and lost rows still upserts when a row arrived: its id bounds widen.
  HAVING sum(r.d) <> 0 OR max(r.d) > 0
  ORDER BY 1, 2, 3, 4, 5
  ON CONFLICT (scope, scope_id, span, bucket, slot) DO UPDATE
  SET count = task_time_buckets.count + EXCLUDED.count,
      min_id = least(task_time_buckets.min_id, EXCLUDED.min_id),
      max_id = greatest(task_time_buckets.max_id, EXCLUDED.max_id);
  INSERT INTO task_id_blocks (scope, scope_id, level, block, slot, count)
  SELECT s.scope, s.scope_id, 0::smallint, r.id >> ${BLOCK_SHIFT}, (r.id % ${PG_COUNT_SLOTS})::smallint, sum(r.d)::bigint
  FROM unnest(p_id, p_user, p_channel, p_delta) AS r(id, u, c, d)
  ${lateral}
  GROUP BY 1, 2, 3, 4, 5
  HAVING sum(r.d) <> 0
  ORDER BY 1, 2, 3, 4, 5
  ON CONFLICT (scope, scope_id, level, block, slot) DO UPDATE SET count = task_id_blocks.count + EXCLUDED.count;
  INSERT INTO task_counters (scope, scope_id, slot, count)
  SELECT s.scope, s.scope_id, (r.id % ${PG_COUNT_SLOTS})::smallint, sum(r.d)::bigint
  FROM unnest(p_id, p_user, p_channel, p_delta) AS r(id, u, c, d)
  ${lateral}
  GROUP BY 1, 2, 3
  HAVING sum(r.d) <> 0
  ORDER BY 1, 2, 3
  ON CONFLICT (scope, scope_id, slot) DO UPDATE SET count = task_counters.count + EXCLUDED.count;`,
  );
}

/** The set-based filter counts for arrays of rows and deltas. */
function filterApply(): string {
  const args = counted('p_').map((a) => `${a} text[]`);
  const groupBy = `1, 2, ${COUNTED_COLUMNS.map((_, i) => i + 3).join(', ')}, ${COUNTED_COLUMNS.length + 3}`;
  return fn(
    'tasks_filter_counts_apply',
    ['p_id integer[]', 'p_user integer[]', 'p_channel integer[]', ...args, 'p_delta integer[]'].join(', '),
    'void',
    [],
    `  INSERT INTO task_filter_counts (${FILTER_KEY}, count)
  SELECT o.owner, o.owner_id, ${counted('r.').join(', ')}, (r.id % ${PG_COUNT_SLOTS})::smallint, sum(r.d)::bigint
  FROM unnest(p_id, p_user, p_channel, ${counted('p_').join(', ')}, p_delta) AS r(id, u, c, ${COUNTED_COLUMNS.join(', ')}, d)
  CROSS JOIN LATERAL (VALUES ${owners('r.u', 'r.c')}) AS o(owner, owner_id)
  GROUP BY ${groupBy}
  HAVING sum(r.d) <> 0
  ORDER BY ${groupBy}
  ON CONFLICT (${FILTER_KEY}) DO UPDATE SET count = task_filter_counts.count + EXCLUDED.count;`,
  );
}

/** PERFORM both apply functions over `source` (a transition table or a moved-rows subquery) with delta `d`. */
function applyAll(source: string, d: string): string {
  return `  PERFORM tasks_listing_apply(array_agg(id), array_agg(user_id), array_agg(channel_id), array_agg(submit_time), array_agg(${d}))
  FROM ${source} HAVING count(*) > 0;
  PERFORM tasks_filter_counts_apply(array_agg(id), array_agg(user_id), array_agg(channel_id), ${counted('array_agg(')
    .map((a) => `${a})`)
    .join(', ')}, array_agg(${d}))
  FROM ${source} HAVING count(*) > 0;`;
}

/** The moved rows of an update for one set of columns (old ones −1, new ones +1), as a subquery. */
function movedRows(columns: readonly string[]): string {
  const cols = columns.join(', ');
  return `((SELECT ${cols}, -1 AS d FROM old_rows EXCEPT ALL SELECT ${cols}, -1 FROM new_rows)
    UNION ALL (SELECT ${cols}, 1 AS d FROM new_rows EXCEPT ALL SELECT ${cols}, 1 FROM old_rows)) moved`;
}

function insertFn(): string {
  // Key order (span ascending), as the set-based path sorts: two writers meet these rows in one order.
  const hv = (scope: string, id: string) =>
    [...SPANS]
      .sort((x, y) => x - y)
      .map((s) => `('${scope}', ${id}, ${s}, CASE WHEN t >= 0 THEN t / ${s} ELSE -1 END, s, 1, i, i)`);
  const buckets = COUNT_OWNERS.flatMap((o) =>
    hv(o.owner, o.column === 'user_id' ? 'u' : o.column === 'channel_id' ? 'c' : '0'),
  );
  const ownerIds = COUNT_OWNERS.map((o) => [
    o.owner,
    o.column === 'user_id' ? 'u' : o.column === 'channel_id' ? 'c' : '0',
  ]);
  return fn(
    'tasks_listing_insert',
    '',
    'trigger',
    [
      'n bigint',
      'i integer',
      'u integer',
      'c integer',
      't bigint',
      's smallint',
      ...counted('v_').map((v) => `${v} text`),
    ],
    `  SELECT count(*), min(r.id), min(r.user_id), min(r.channel_id), min(r.submit_time), ${counted('min(r.')
      .map((x) => `${x})`)
      .join(', ')}
  INTO n, i, u, c, t, ${counted('v_').join(', ')} FROM new_rows r;
  IF n = 0 THEN
    RETURN NULL;
  END IF;
  IF n > 1 THEN
${applyAll('new_rows', '1')}
    RETURN NULL;
  END IF;
  s := (i % ${PG_COUNT_SLOTS})::smallint;
  INSERT INTO task_time_buckets AS b (scope, scope_id, span, bucket, slot, count, min_id, max_id) VALUES
    ${buckets.join(',\n    ')}
  ON CONFLICT (scope, scope_id, span, bucket, slot) DO UPDATE
  SET count = b.count + 1, min_id = least(b.min_id, EXCLUDED.min_id), max_id = greatest(b.max_id, EXCLUDED.max_id);
  INSERT INTO task_id_blocks AS b (scope, scope_id, level, block, slot, count) VALUES
    ${ownerIds.map(([o, id]) => `('${o}', ${id}, 0, i >> ${BLOCK_SHIFT}, s, 1)`).join(', ')}
  ON CONFLICT (scope, scope_id, level, block, slot) DO UPDATE SET count = b.count + 1;
  INSERT INTO task_counters AS b (scope, scope_id, slot, count) VALUES
    ${ownerIds.map(([o, id]) => `('${o}', ${id}, s, 1)`).join(', ')}
  ON CONFLICT (scope, scope_id, slot) DO UPDATE SET count = b.count + 1;
  INSERT INTO task_filter_counts AS b (${FILTER_KEY}, count) VALUES
    ${ownerIds.map(([o, id]) => `('${o}', ${id}, ${counted('v_').join(', ')}, s, 1)`).join(', ')}
  ON CONFLICT (${FILTER_KEY}) DO UPDATE SET count = b.count + 1;
  RETURN NULL;`,
  );
}

function updateFn(): string {
  const cols = [...new Set([...SCOPE_COLUMNS, ...FILTER_COLUMNS])];
  const oldVars = cols.map((c) => `o_${c}`);
  const newVars = cols.map((c) => `n_${c}`);
  const types = (c: string) =>
    c === 'submit_time' ? 'bigint' : (COUNTED_COLUMNS as readonly string[]).includes(c) ? 'text' : 'integer';
  const same = (columns: readonly string[]) =>
    `(${columns.map((c) => `o_${c}`).join(', ')}) IS NOT DISTINCT FROM (${columns.map((c) => `n_${c}`).join(', ')})`;
  const side = (p: 'o_' | 'n_', d: string) =>
    COUNT_OWNERS.map(
      (o) =>
        `('${o.owner}', ${o.column ? `${p}${o.column}` : '0'}, ${counted(p).join(', ')}, (${p}id % ${PG_COUNT_SLOTS})::smallint, ${d})`,
    );
  return fn(
    'tasks_listing_update',
    '',
    'trigger',
    [
      'n bigint',
      ...oldVars.map((v, k) => `${v} ${types(cols[k]!)}`),
      ...newVars.map((v, k) => `${v} ${types(cols[k]!)}`),
    ],
    `  SELECT count(*), ${cols.map((c) => `min(r.${c})`).join(', ')} INTO n, ${oldVars.join(', ')} FROM old_rows r;
  IF n = 0 THEN
    RETURN NULL;
  END IF;
  IF n = 1 THEN
    SELECT ${cols.map((c) => `r.${c}`).join(', ')} INTO ${newVars.join(', ')} FROM new_rows r;
    IF ${same(SCOPE_COLUMNS)} THEN
      IF ${same(FILTER_COLUMNS)} THEN
        RETURN NULL;
      END IF;
      -- Only a counted value moved (the poller's status writes): six rows, in key order.
      INSERT INTO task_filter_counts AS b (${FILTER_KEY}, count)
      SELECT * FROM (VALUES ${[...side('o_', '-1'), ...side('n_', '1')].join(',\n        ')}) v
      ORDER BY 1, 2, ${COUNTED_COLUMNS.map((_, i) => i + 3).join(', ')}, ${COUNTED_COLUMNS.length + 3}
      ON CONFLICT (${FILTER_KEY}) DO UPDATE SET count = b.count + EXCLUDED.count;
      RETURN NULL;
    END IF;
  END IF;
  PERFORM tasks_listing_apply(array_agg(id), array_agg(user_id), array_agg(channel_id), array_agg(submit_time), array_agg(d))
  FROM ${movedRows(SCOPE_COLUMNS)}
  HAVING count(*) > 0;
  PERFORM tasks_filter_counts_apply(array_agg(id), array_agg(user_id), array_agg(channel_id), ${counted('array_agg(')
    .map((a) => `${a})`)
    .join(', ')}, array_agg(d))
  FROM ${movedRows(FILTER_COLUMNS)}
  HAVING count(*) > 0;
  RETURN NULL;`,
  );
}

export function pgListingTriggersSql(): string {
  const header = '-- Generated from src/db/listing-design.ts (bun scripts/listing-sql.ts pg-triggers): do not edit.\n';
  return [
    `${header}DROP TRIGGER IF EXISTS tasks_filter_counts_insert ON tasks;`,
    'DROP TRIGGER IF EXISTS tasks_filter_counts_delete ON tasks;',
    'DROP TRIGGER IF EXISTS tasks_filter_counts_update ON tasks;',
    'DROP TRIGGER IF EXISTS tasks_filter_counts_truncate ON tasks;',
    'DROP FUNCTION IF EXISTS tasks_filter_counts_insert(), tasks_filter_counts_delete(), tasks_filter_counts_update(), tasks_filter_counts_truncate();',
    scopeApply(),
    filterApply(),
    insertFn(),
    fn('tasks_listing_delete', '', 'trigger', [], `${applyAll('old_rows', '-1')}\n  RETURN NULL;`),
    updateFn(),
    fn(
      'tasks_listing_truncate',
      '',
      'trigger',
      [],
      '  DELETE FROM task_time_buckets;\n  DELETE FROM task_id_blocks;\n  DELETE FROM task_counters;\n  DELETE FROM task_filter_counts;\n  RETURN NULL;',
    ),
  ].join(BREAK);
}
