DROP INDEX `tasks_status_idx`;--> statement-breakpoint
DROP INDEX `tasks_user_id_status_idx`;--> statement-breakpoint
CREATE INDEX `tasks_status_idx` ON `tasks` (`status`) WHERE status IN ('SUCCESS', 'FAILURE');--> statement-breakpoint
CREATE INDEX `tasks_user_id_status_idx` ON `tasks` (`user_id`,`status`) WHERE status IN ('SUCCESS', 'FAILURE');