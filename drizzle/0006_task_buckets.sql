CREATE TABLE `task_id_blocks` (
	`scope` text NOT NULL,
	`scope_id` integer NOT NULL,
	`block` integer NOT NULL,
	`count` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`scope`, `scope_id`, `block`)
);
--> statement-breakpoint
CREATE TABLE `task_time_buckets` (
	`scope` text NOT NULL,
	`scope_id` integer NOT NULL,
	`span` integer NOT NULL,
	`bucket` integer NOT NULL,
	`count` integer DEFAULT 0 NOT NULL,
	`min_id` integer NOT NULL,
	`max_id` integer NOT NULL,
	PRIMARY KEY(`scope`, `scope_id`, `span`, `bucket`)
);
--> statement-breakpoint
CREATE INDEX `tasks_channel_id_submit_time_idx` ON `tasks` (`channel_id`,`submit_time`);