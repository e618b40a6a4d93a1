CREATE TABLE "task_filter_counts" (
	"owner" text NOT NULL,
	"owner_id" integer NOT NULL,
	"status" text NOT NULL,
	"action" text NOT NULL,
	"slot" smallint DEFAULT 0 NOT NULL,
	"count" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "task_filter_counts_owner_owner_id_status_action_slot_pk" PRIMARY KEY("owner","owner_id","status","action","slot")
);
--> statement-breakpoint
CREATE INDEX "tasks_status_id_idx" ON "tasks" USING btree ("status","id");--> statement-breakpoint
CREATE INDEX "tasks_user_id_status_id_idx" ON "tasks" USING btree ("user_id","status","id");--> statement-breakpoint
CREATE INDEX "tasks_action_id_idx" ON "tasks" USING btree ("action","id");--> statement-breakpoint
CREATE INDEX "tasks_user_id_action_id_idx" ON "tasks" USING btree ("user_id","action","id");