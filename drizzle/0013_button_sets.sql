CREATE TABLE `button_sets` (
	`id` integer PRIMARY KEY NOT NULL,
	`body` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `button_sets_body_unique` ON `button_sets` (`body`);