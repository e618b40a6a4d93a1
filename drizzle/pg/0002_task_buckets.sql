CREATE TABLE "task_id_blocks" (
	"scope" text NOT NULL,
	"scope_id" integer NOT NULL,
	"level" smallint NOT NULL,
	"block" integer NOT NULL,
	"slot" smallint NOT NULL,
	"count" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "task_id_blocks_scope_scope_id_level_block_slot_pk" PRIMARY KEY("scope","scope_id","level","block","slot")
);
--> statement-breakpoint
CREATE TABLE "task_time_buckets" (
	"scope" text NOT NULL,
	"scope_id" integer NOT NULL,
	"span" integer NOT NULL,
	"bucket" bigint NOT NULL,
	"slot" smallint NOT NULL,
	"count" bigint DEFAULT 0 NOT NULL,
	"min_id" integer NOT NULL,
	"max_id" integer NOT NULL,
	CONSTRAINT "task_time_buckets_scope_scope_id_span_bucket_slot_pk" PRIMARY KEY("scope","scope_id","span","bucket","slot")
);
--> statement-breakpoint
CREATE INDEX "tasks_channel_id_submit_time_idx" ON "tasks" USING btree ("channel_id","submit_time");