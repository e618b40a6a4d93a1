import { integer, primaryKey, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/*
 * The listing tables (this file and task-counters.ts) are WITHOUT ROWID tables on SQLite
 * (migration 0012): each row lives once, in its primary-key b-tree, which also covers every
 * column a read needs. As rowid tables they were stored three times for the time buckets (table,
 * primary-key index, covering index: 244 B per bucket row, ~235 B per task at 1M) and every
 * trigger upsert rewrote two or three pages. Drizzle cannot declare WITHOUT ROWID: a change to
 * these tables must rebuild them WITHOUT ROWID again in its migration (see 0012).
 */

/**
 * Row counts of `tasks` per scope ('all' / 'user' / 'channel') and per `submit_time` bucket of
 * `span` ms (a minute, an hour or a day; every negative time falls in bucket -1), kept by triggers
 * (migration 0007) so a time-range total sums a few buckets instead of counting the range.
 * `min_id`/`max_id` bound the ids ever seen in the bucket (never shrunk on delete or move, so
 * they stay a superset): a range page walks the id index between them.
 */
export const taskTimeBuckets = sqliteTable(
  'task_time_buckets',
  {
    scope: text('scope').notNull(),
    scopeId: integer('scope_id').notNull(),
    span: integer('span').notNull(),
    bucket: integer('bucket').notNull(),
    count: integer('count').notNull().default(0),
    minId: integer('min_id').notNull(),
    maxId: integer('max_id').notNull(),
  },
  (t) => [primaryKey({ columns: [t.scope, t.scopeId, t.span, t.bucket] })],
);

/**
 * Row counts of `tasks` per scope and per block of 1024 ids (`id / 1024`), kept by triggers
 * (migration 0007): a deep page finds the block it starts in, then skips only inside it.
 */
export const taskIdBlocks = sqliteTable(
  'task_id_blocks',
  {
    scope: text('scope').notNull(),
    scopeId: integer('scope_id').notNull(),
    block: integer('block').notNull(),
    count: integer('count').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.scope, t.scopeId, t.block] })],
);
