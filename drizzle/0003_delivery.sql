CREATE TABLE `rate_limit_windows` (
	`token_id` integer NOT NULL,
	`window_start` integer NOT NULL,
	`count` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`token_id`, `window_start`)
);
--> statement-breakpoint
CREATE TABLE `task_webhooks` (
	`task_id` integer PRIMARY KEY NOT NULL,
	`user_id` integer NOT NULL,
	`token_id` integer NOT NULL,
	`url` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `webhook_deliveries` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`task_id` integer NOT NULL,
	`user_id` integer NOT NULL,
	`token_id` integer NOT NULL,
	`mj_id` text DEFAULT '' NOT NULL,
	`url` text NOT NULL,
	`payload` text NOT NULL,
	`status` text DEFAULT 'pending' NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`next_attempt_at` integer DEFAULT 0 NOT NULL,
	`last_error` text DEFAULT '' NOT NULL,
	`created_time` integer NOT NULL,
	`delivered_time` integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE INDEX `webhook_deliveries_due_idx` ON `webhook_deliveries` (`next_attempt_at`,`id`) WHERE status = 'pending';--> statement-breakpoint
CREATE INDEX `webhook_deliveries_task_idx` ON `webhook_deliveries` (`task_id`,`id`);--> statement-breakpoint
CREATE INDEX `webhook_deliveries_user_idx` ON `webhook_deliveries` (`user_id`,`id`);--> statement-breakpoint
ALTER TABLE `tokens` ADD `webhook_secret` text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE `tokens` ADD `rate_limit_per_minute` integer DEFAULT 0 NOT NULL;