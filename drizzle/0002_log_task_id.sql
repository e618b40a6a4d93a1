ALTER TABLE `logs` ADD `task_id` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX `logs_task_id_idx` ON `logs` (`task_id`);