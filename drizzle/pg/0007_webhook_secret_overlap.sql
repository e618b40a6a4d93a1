ALTER TABLE "tokens" ADD COLUMN "previous_webhook_secret" text;--> statement-breakpoint
ALTER TABLE "tokens" ADD COLUMN "webhook_secret_rotated_at" bigint;--> statement-breakpoint
ALTER TABLE "webhook_deliveries" ADD COLUMN "receiver" text DEFAULT '' NOT NULL;--> statement-breakpoint
CREATE INDEX "webhook_deliveries_queue_idx" ON "webhook_deliveries" USING btree ("user_id","receiver","id") WHERE status = 'pending';