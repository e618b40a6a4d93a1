CREATE TABLE `task_filter_counts` (
	`owner` text NOT NULL,
	`owner_id` integer NOT NULL,
	`status` text NOT NULL,
	`action` text NOT NULL,
	`count` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`owner`, `owner_id`, `status`, `action`)
);
--> statement-breakpoint
CREATE INDEX `tasks_status_idx` ON `tasks` (`status`);--> statement-breakpoint
CREATE INDEX `tasks_user_id_status_idx` ON `tasks` (`user_id`,`status`);--> statement-breakpoint
CREATE INDEX `tasks_action_idx` ON `tasks` (`action`);--> statement-breakpoint
CREATE INDEX `tasks_user_id_action_idx` ON `tasks` (`user_id`,`action`);