ALTER TABLE `tokens` ADD `previous_webhook_secret` text;--> statement-breakpoint
ALTER TABLE `tokens` ADD `webhook_secret_rotated_at` integer;--> statement-breakpoint
ALTER TABLE `webhook_deliveries` ADD `receiver` text DEFAULT '' NOT NULL;--> statement-breakpoint
CREATE INDEX `webhook_deliveries_queue_idx` ON `webhook_deliveries` (`user_id`,`receiver`,`id`) WHERE status = 'pending';