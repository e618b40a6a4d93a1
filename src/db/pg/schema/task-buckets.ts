import { bigint, integer, pgTable, primaryKey, smallint, text } from 'drizzle-orm/pg-core';

/**
 * Row counts of `tasks` per scope ('all' / 'user' / 'channel') and per `submit_time` bucket of
 * `span` ms (an hour, a day or 16 days; every negative time falls in bucket -1), kept by PL/pgSQL triggers
 * (migration 0003_task_bucket_triggers), so a time-range total sums a few buckets instead of
 * counting the range. Each bucket has 8 slots (`id % 8`) summed on read: the current hour of the
 * 'all' scope would otherwise be one row every submit waits on. `min_id`/`max_id` bound the ids
 * ever seen in the slot (never shrunk, so a superset): a range page walks ids between them.
 */
export const taskTimeBuckets = pgTable(
  'task_time_buckets',
  {
    scope: text('scope').notNull(),
    scopeId: integer('scope_id').notNull(),
    span: integer('span').notNull(),
    bucket: bigint('bucket', { mode: 'number' }).notNull(),
    slot: smallint('slot').notNull(),
    count: bigint('count', { mode: 'number' }).notNull().default(0),
    minId: integer('min_id').notNull(),
    maxId: integer('max_id').notNull(),
  },
  (t) => [primaryKey({ columns: [t.scope, t.scopeId, t.span, t.bucket, t.slot] })],
);

/**
 * Row counts of `tasks` per scope and per block of ids: level 0 blocks of 1024 ids (`id >> 10`)
 * and level 1 blocks of 65536 (`id >> 16`), in 8 slots like the buckets (the newest block of
 * 'all' takes every insert). A deep page finds its level 1 block, then its level 0 block inside
 * it, then skips only inside that.
 */
export const taskIdBlocks = pgTable(
  'task_id_blocks',
  {
    scope: text('scope').notNull(),
    scopeId: integer('scope_id').notNull(),
    level: smallint('level').notNull(),
    block: integer('block').notNull(),
    slot: smallint('slot').notNull(),
    count: bigint('count', { mode: 'number' }).notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.scope, t.scopeId, t.level, t.block, t.slot] })],
);
