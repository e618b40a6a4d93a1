DROP INDEX `tasks_action_idx`;--> statement-breakpoint
DROP INDEX `tasks_user_id_action_idx`;--> statement-breakpoint
CREATE INDEX `tasks_action_idx` ON `tasks` (`action`) WHERE action <> 'IMAGINE';--> statement-breakpoint
CREATE INDEX `tasks_user_id_action_idx` ON `tasks` (`user_id`,`action`) WHERE action <> 'IMAGINE';