ALTER TABLE `tokens` ADD `previous_webhook_secret` text;--> statement-breakpoint
ALTER TABLE `tokens` ADD `webhook_secret_rotated_at` integer;