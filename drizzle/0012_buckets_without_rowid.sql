-- The three trigger-maintained tables of the listing (task_counters, task_time_buckets,
-- task_id_blocks) as WITHOUT ROWID tables keyed by their natural key: each row is stored once,
-- in its primary key b-tree, instead of a rowid table plus the key's index (plus, for the time
-- buckets, a covering index): 244 -> ~75 bytes per bucket row, and one page written per trigger
-- upsert instead of two. drizzle-kit cannot declare WITHOUT ROWID, so the tables are rebuilt here
-- (same columns, same key; rows copied unchanged). legacy_alter_table keeps the rename from
-- re-checking the triggers on tasks, which name these tables and are kept as they are.
PRAGMA legacy_alter_table = ON;
--> statement-breakpoint
CREATE TABLE `task_counters_new` (
	`scope` text NOT NULL,
	`scope_id` integer NOT NULL,
	`count` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`scope`, `scope_id`)
) WITHOUT ROWID;
--> statement-breakpoint
INSERT INTO task_counters_new (scope, scope_id, count) SELECT scope, scope_id, count FROM task_counters;
--> statement-breakpoint
DROP TABLE task_counters;
--> statement-breakpoint
ALTER TABLE task_counters_new RENAME TO task_counters;
--> statement-breakpoint
CREATE TABLE `task_time_buckets_new` (
	`scope` text NOT NULL,
	`scope_id` integer NOT NULL,
	`span` integer NOT NULL,
	`bucket` integer NOT NULL,
	`count` integer DEFAULT 0 NOT NULL,
	`min_id` integer NOT NULL,
	`max_id` integer NOT NULL,
	PRIMARY KEY(`scope`, `scope_id`, `span`, `bucket`)
) WITHOUT ROWID;
--> statement-breakpoint
INSERT INTO task_time_buckets_new (scope, scope_id, span, bucket, count, min_id, max_id)
  SELECT scope, scope_id, span, bucket, count, min_id, max_id FROM task_time_buckets;
--> statement-breakpoint
DROP TABLE task_time_buckets;
--> statement-breakpoint
ALTER TABLE task_time_buckets_new RENAME TO task_time_buckets;
--> statement-breakpoint
CREATE TABLE `task_id_blocks_new` (
	`scope` text NOT NULL,
	`scope_id` integer NOT NULL,
	`block` integer NOT NULL,
	`count` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`scope`, `scope_id`, `block`)
) WITHOUT ROWID;
--> statement-breakpoint
INSERT INTO task_id_blocks_new (scope, scope_id, block, count) SELECT scope, scope_id, block, count FROM task_id_blocks;
--> statement-breakpoint
DROP TABLE task_id_blocks;
--> statement-breakpoint
ALTER TABLE task_id_blocks_new RENAME TO task_id_blocks;
--> statement-breakpoint
PRAGMA legacy_alter_table = OFF;
