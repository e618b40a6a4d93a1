DROP INDEX "tasks_status_id_idx";--> statement-breakpoint
DROP INDEX "tasks_user_id_status_id_idx";--> statement-breakpoint
DROP INDEX "tasks_action_id_idx";--> statement-breakpoint
DROP INDEX "tasks_user_id_action_id_idx";--> statement-breakpoint
CREATE INDEX "tasks_status_id_idx" ON "tasks" USING btree ("status","id") WHERE status IN ('SUCCESS', 'FAILURE');--> statement-breakpoint
CREATE INDEX "tasks_user_id_status_id_idx" ON "tasks" USING btree ("user_id","status","id") WHERE status IN ('SUCCESS', 'FAILURE');--> statement-breakpoint
CREATE INDEX "tasks_action_id_idx" ON "tasks" USING btree ("action","id") WHERE action <> 'IMAGINE';--> statement-breakpoint
CREATE INDEX "tasks_user_id_action_id_idx" ON "tasks" USING btree ("user_id","action","id") WHERE action <> 'IMAGINE';