CREATE TABLE `channels` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`base_url` text NOT NULL,
	`key` text DEFAULT '' NOT NULL,
	`status` integer DEFAULT 1 NOT NULL,
	`priority` integer DEFAULT 0 NOT NULL,
	`weight` integer DEFAULT 1 NOT NULL,
	`used_quota` integer DEFAULT 0 NOT NULL,
	`created_time` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `logs` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`user_id` integer DEFAULT 0 NOT NULL,
	`type` integer NOT NULL,
	`content` text DEFAULT '' NOT NULL,
	`quota` integer DEFAULT 0 NOT NULL,
	`model_name` text DEFAULT '' NOT NULL,
	`channel_id` integer DEFAULT 0 NOT NULL,
	`token_id` integer DEFAULT 0 NOT NULL,
	`mj_id` text DEFAULT '' NOT NULL,
	`created_time` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `logs_user_id_id_idx` ON `logs` (`user_id`,`id`);--> statement-breakpoint
CREATE INDEX `logs_mj_id_idx` ON `logs` (`mj_id`);--> statement-breakpoint
CREATE TABLE `options` (
	`key` text PRIMARY KEY NOT NULL,
	`value` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `task_counters` (
	`scope` text NOT NULL,
	`scope_id` integer NOT NULL,
	`count` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`scope`, `scope_id`)
);
--> statement-breakpoint
CREATE TABLE `tasks` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`user_id` integer NOT NULL,
	`token_id` integer DEFAULT 0 NOT NULL,
	`channel_id` integer DEFAULT 0 NOT NULL,
	`code` integer DEFAULT 0 NOT NULL,
	`action` text DEFAULT '' NOT NULL,
	`mj_id` text DEFAULT '' NOT NULL,
	`prompt` text DEFAULT '' NOT NULL,
	`prompt_en` text DEFAULT '' NOT NULL,
	`description` text DEFAULT '' NOT NULL,
	`state` text DEFAULT '' NOT NULL,
	`submit_time` integer DEFAULT 0 NOT NULL,
	`start_time` integer DEFAULT 0 NOT NULL,
	`finish_time` integer DEFAULT 0 NOT NULL,
	`image_url` text DEFAULT '' NOT NULL,
	`video_url` text DEFAULT '' NOT NULL,
	`video_urls` text DEFAULT '' NOT NULL,
	`status` text DEFAULT '' NOT NULL,
	`progress` text DEFAULT '0%' NOT NULL,
	`fail_reason` text DEFAULT '' NOT NULL,
	`quota` integer DEFAULT 0 NOT NULL,
	`buttons` text DEFAULT '' NOT NULL,
	`properties` text DEFAULT '' NOT NULL,
	`updated_time` integer DEFAULT 0 NOT NULL,
	CONSTRAINT "tasks_quota_non_negative" CHECK("tasks"."quota" >= 0)
);
--> statement-breakpoint
CREATE INDEX `tasks_user_id_id_idx` ON `tasks` (`user_id`,`id`);--> statement-breakpoint
CREATE INDEX `tasks_user_id_mj_id_idx` ON `tasks` (`user_id`,`mj_id`);--> statement-breakpoint
CREATE INDEX `tasks_user_id_submit_time_idx` ON `tasks` (`user_id`,`submit_time`);--> statement-breakpoint
CREATE INDEX `tasks_channel_id_id_idx` ON `tasks` (`channel_id`,`id`);--> statement-breakpoint
CREATE INDEX `tasks_mj_id_idx` ON `tasks` (`mj_id`);--> statement-breakpoint
CREATE INDEX `tasks_submit_time_idx` ON `tasks` (`submit_time`);--> statement-breakpoint
CREATE INDEX `tasks_unfinished_idx` ON `tasks` (`channel_id`,`id`) WHERE progress <> '100%';--> statement-breakpoint
CREATE TABLE `tokens` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`user_id` integer NOT NULL,
	`name` text DEFAULT '' NOT NULL,
	`key` text NOT NULL,
	`status` integer DEFAULT 1 NOT NULL,
	`remain_quota` integer DEFAULT 0 NOT NULL,
	`unlimited_quota` integer DEFAULT false NOT NULL,
	`used_quota` integer DEFAULT 0 NOT NULL,
	`expired_time` integer DEFAULT -1 NOT NULL,
	`created_time` integer NOT NULL,
	`accessed_time` integer DEFAULT 0 NOT NULL,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `tokens_key_unique` ON `tokens` (`key`);--> statement-breakpoint
CREATE INDEX `tokens_user_id_idx` ON `tokens` (`user_id`,`id`);--> statement-breakpoint
CREATE TABLE `users` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`username` text NOT NULL,
	`display_name` text DEFAULT '' NOT NULL,
	`role` integer DEFAULT 1 NOT NULL,
	`status` integer DEFAULT 1 NOT NULL,
	`access_token` text,
	`quota` integer DEFAULT 0 NOT NULL,
	`used_quota` integer DEFAULT 0 NOT NULL,
	`request_count` integer DEFAULT 0 NOT NULL,
	`created_time` integer NOT NULL,
	CONSTRAINT "users_quota_non_negative" CHECK("users"."quota" >= 0)
);
--> statement-breakpoint
CREATE UNIQUE INDEX `users_username_unique` ON `users` (`username`);--> statement-breakpoint
CREATE UNIQUE INDEX `users_access_token_unique` ON `users` (`access_token`);