ALTER TABLE "tokens" ADD COLUMN "previous_webhook_secret" text;--> statement-breakpoint
ALTER TABLE "tokens" ADD COLUMN "webhook_secret_rotated_at" bigint;