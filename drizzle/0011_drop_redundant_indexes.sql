DROP INDEX `task_time_buckets_cover_idx`;--> statement-breakpoint
DROP INDEX `tasks_user_id_mj_id_idx`;