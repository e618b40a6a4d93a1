-- Generated from src/db/listing-design.ts (bun scripts/listing-sql.ts sqlite-triggers): do not edit.
DROP TRIGGER IF EXISTS tasks_count_insert;
--> statement-breakpoint
DROP TRIGGER IF EXISTS tasks_count_delete;
--> statement-breakpoint
DROP TRIGGER IF EXISTS tasks_count_move_user;
--> statement-breakpoint
DROP TRIGGER IF EXISTS tasks_count_move_channel;
--> statement-breakpoint
DROP TRIGGER IF EXISTS tasks_buckets_insert;
--> statement-breakpoint
DROP TRIGGER IF EXISTS tasks_buckets_delete;
--> statement-breakpoint
DROP TRIGGER IF EXISTS tasks_buckets_update;
--> statement-breakpoint
DROP TRIGGER IF EXISTS tasks_filter_counts_insert;
--> statement-breakpoint
DROP TRIGGER IF EXISTS tasks_filter_counts_delete;
--> statement-breakpoint
DROP TRIGGER IF EXISTS tasks_filter_counts_update;
--> statement-breakpoint
DROP TRIGGER IF EXISTS tasks_listing_insert;
--> statement-breakpoint
DROP TRIGGER IF EXISTS tasks_listing_delete;
--> statement-breakpoint
DROP TRIGGER IF EXISTS tasks_listing_move;
--> statement-breakpoint
DROP TRIGGER IF EXISTS tasks_listing_filters_move;
--> statement-breakpoint
CREATE TABLE IF NOT EXISTS task_filter_counts_deferred (on_batch integer PRIMARY KEY NOT NULL CHECK (on_batch = 1)) WITHOUT ROWID;
--> statement-breakpoint
CREATE TRIGGER tasks_listing_insert AFTER INSERT ON tasks BEGIN
  INSERT INTO task_counters (scope, scope_id, count) VALUES ('all', 0, 1), ('channel', NEW.channel_id, 1), ('user', NEW.user_id, 1)
    ON CONFLICT (scope, scope_id) DO UPDATE SET count = count + excluded.count;
  INSERT INTO task_time_buckets (scope, scope_id, span, bucket, count, min_id, max_id) VALUES
    ('all', 0, 86400000, CASE WHEN NEW.submit_time >= 0 THEN NEW.submit_time / 86400000 ELSE -1 END, 1, NEW.id, NEW.id),
    ('all', 0, 3600000, CASE WHEN NEW.submit_time >= 0 THEN NEW.submit_time / 3600000 ELSE -1 END, 1, NEW.id, NEW.id),
    ('all', 0, 60000, CASE WHEN NEW.submit_time >= 0 THEN NEW.submit_time / 60000 ELSE -1 END, 1, NEW.id, NEW.id),
    ('channel', NEW.channel_id, 86400000, CASE WHEN NEW.submit_time >= 0 THEN NEW.submit_time / 86400000 ELSE -1 END, 1, NEW.id, NEW.id),
    ('channel', NEW.channel_id, 3600000, CASE WHEN NEW.submit_time >= 0 THEN NEW.submit_time / 3600000 ELSE -1 END, 1, NEW.id, NEW.id),
    ('channel', NEW.channel_id, 60000, CASE WHEN NEW.submit_time >= 0 THEN NEW.submit_time / 60000 ELSE -1 END, 1, NEW.id, NEW.id),
    ('user', NEW.user_id, 86400000, CASE WHEN NEW.submit_time >= 0 THEN NEW.submit_time / 86400000 ELSE -1 END, 1, NEW.id, NEW.id),
    ('user', NEW.user_id, 3600000, CASE WHEN NEW.submit_time >= 0 THEN NEW.submit_time / 3600000 ELSE -1 END, 1, NEW.id, NEW.id),
    ('user', NEW.user_id, 60000, CASE WHEN NEW.submit_time >= 0 THEN NEW.submit_time / 60000 ELSE -1 END, 1, NEW.id, NEW.id)
    ON CONFLICT (scope, scope_id, span, bucket) DO UPDATE
    SET count = count + excluded.count, min_id = min(min_id, excluded.min_id), max_id = max(max_id, excluded.max_id);
  INSERT INTO task_id_blocks (scope, scope_id, block, count) VALUES ('all', 0, NEW.id / 1024, 1), ('channel', NEW.channel_id, NEW.id / 1024, 1), ('user', NEW.user_id, NEW.id / 1024, 1)
    ON CONFLICT (scope, scope_id, block) DO UPDATE SET count = count + excluded.count;
  INSERT INTO task_filter_counts (owner, owner_id, status, action, count) VALUES ('all', 0, NEW.status, NEW.action, 1), ('channel', NEW.channel_id, NEW.status, NEW.action, 1), ('user', NEW.user_id, NEW.status, NEW.action, 1)
    ON CONFLICT (owner, owner_id, status, action) DO UPDATE SET count = count + excluded.count;
END;
--> statement-breakpoint
CREATE TRIGGER tasks_listing_delete AFTER DELETE ON tasks BEGIN
  INSERT INTO task_counters (scope, scope_id, count) VALUES ('all', 0, -1), ('channel', OLD.channel_id, -1), ('user', OLD.user_id, -1)
    ON CONFLICT (scope, scope_id) DO UPDATE SET count = count + excluded.count;
  INSERT INTO task_time_buckets (scope, scope_id, span, bucket, count, min_id, max_id) VALUES
    ('all', 0, 86400000, CASE WHEN OLD.submit_time >= 0 THEN OLD.submit_time / 86400000 ELSE -1 END, -1, OLD.id, OLD.id),
    ('all', 0, 3600000, CASE WHEN OLD.submit_time >= 0 THEN OLD.submit_time / 3600000 ELSE -1 END, -1, OLD.id, OLD.id),
    ('all', 0, 60000, CASE WHEN OLD.submit_time >= 0 THEN OLD.submit_time / 60000 ELSE -1 END, -1, OLD.id, OLD.id),
    ('channel', OLD.channel_id, 86400000, CASE WHEN OLD.submit_time >= 0 THEN OLD.submit_time / 86400000 ELSE -1 END, -1, OLD.id, OLD.id),
    ('channel', OLD.channel_id, 3600000, CASE WHEN OLD.submit_time >= 0 THEN OLD.submit_time / 3600000 ELSE -1 END, -1, OLD.id, OLD.id),
    ('channel', OLD.channel_id, 60000, CASE WHEN OLD.submit_time >= 0 THEN OLD.submit_time / 60000 ELSE -1 END, -1, OLD.id, OLD.id),
    ('user', OLD.user_id, 86400000, CASE WHEN OLD.submit_time >= 0 THEN OLD.submit_time / 86400000 ELSE -1 END, -1, OLD.id, OLD.id),
    ('user', OLD.user_id, 3600000, CASE WHEN OLD.submit_time >= 0 THEN OLD.submit_time / 3600000 ELSE -1 END, -1, OLD.id, OLD.id),
    ('user', OLD.user_id, 60000, CASE WHEN OLD.submit_time >= 0 THEN OLD.submit_time / 60000 ELSE -1 END, -1, OLD.id, OLD.id)
    ON CONFLICT (scope, scope_id, span, bucket) DO UPDATE
    SET count = count + excluded.count, min_id = min(min_id, excluded.min_id), max_id = max(max_id, excluded.max_id);
  INSERT INTO task_id_blocks (scope, scope_id, block, count) VALUES ('all', 0, OLD.id / 1024, -1), ('channel', OLD.channel_id, OLD.id / 1024, -1), ('user', OLD.user_id, OLD.id / 1024, -1)
    ON CONFLICT (scope, scope_id, block) DO UPDATE SET count = count + excluded.count;
  INSERT INTO task_filter_counts (owner, owner_id, status, action, count) VALUES ('all', 0, OLD.status, OLD.action, -1), ('channel', OLD.channel_id, OLD.status, OLD.action, -1), ('user', OLD.user_id, OLD.status, OLD.action, -1)
    ON CONFLICT (owner, owner_id, status, action) DO UPDATE SET count = count + excluded.count;
END;
--> statement-breakpoint
CREATE TRIGGER tasks_listing_move AFTER UPDATE OF id, user_id, channel_id, submit_time ON tasks WHEN OLD.id IS NOT NEW.id OR OLD.user_id IS NOT NEW.user_id OR OLD.channel_id IS NOT NEW.channel_id OR OLD.submit_time IS NOT NEW.submit_time BEGIN
  INSERT INTO task_counters (scope, scope_id, count) VALUES ('all', 0, -1), ('channel', OLD.channel_id, -1), ('user', OLD.user_id, -1)
    ON CONFLICT (scope, scope_id) DO UPDATE SET count = count + excluded.count;
  INSERT INTO task_time_buckets (scope, scope_id, span, bucket, count, min_id, max_id) VALUES
    ('all', 0, 86400000, CASE WHEN OLD.submit_time >= 0 THEN OLD.submit_time / 86400000 ELSE -1 END, -1, OLD.id, OLD.id),
    ('all', 0, 3600000, CASE WHEN OLD.submit_time >= 0 THEN OLD.submit_time / 3600000 ELSE -1 END, -1, OLD.id, OLD.id),
    ('all', 0, 60000, CASE WHEN OLD.submit_time >= 0 THEN OLD.submit_time / 60000 ELSE -1 END, -1, OLD.id, OLD.id),
    ('channel', OLD.channel_id, 86400000, CASE WHEN OLD.submit_time >= 0 THEN OLD.submit_time / 86400000 ELSE -1 END, -1, OLD.id, OLD.id),
    ('channel', OLD.channel_id, 3600000, CASE WHEN OLD.submit_time >= 0 THEN OLD.submit_time / 3600000 ELSE -1 END, -1, OLD.id, OLD.id),
    ('channel', OLD.channel_id, 60000, CASE WHEN OLD.submit_time >= 0 THEN OLD.submit_time / 60000 ELSE -1 END, -1, OLD.id, OLD.id),
    ('user', OLD.user_id, 86400000, CASE WHEN OLD.submit_time >= 0 THEN OLD.submit_time / 86400000 ELSE -1 END, -1, OLD.id, OLD.id),
    ('user', OLD.user_id, 3600000, CASE WHEN OLD.submit_time >= 0 THEN OLD.submit_time / 3600000 ELSE -1 END, -1, OLD.id, OLD.id),
    ('user', OLD.user_id, 60000, CASE WHEN OLD.submit_time >= 0 THEN OLD.submit_time / 60000 ELSE -1 END, -1, OLD.id, OLD.id)
    ON CONFLICT (scope, scope_id, span, bucket) DO UPDATE
    SET count = count + excluded.count, min_id = min(min_id, excluded.min_id), max_id = max(max_id, excluded.max_id);
  INSERT INTO task_id_blocks (scope, scope_id, block, count) VALUES ('all', 0, OLD.id / 1024, -1), ('channel', OLD.channel_id, OLD.id / 1024, -1), ('user', OLD.user_id, OLD.id / 1024, -1)
    ON CONFLICT (scope, scope_id, block) DO UPDATE SET count = count + excluded.count;
  INSERT INTO task_counters (scope, scope_id, count) VALUES ('all', 0, 1), ('channel', NEW.channel_id, 1), ('user', NEW.user_id, 1)
    ON CONFLICT (scope, scope_id) DO UPDATE SET count = count + excluded.count;
  INSERT INTO task_time_buckets (scope, scope_id, span, bucket, count, min_id, max_id) VALUES
    ('all', 0, 86400000, CASE WHEN NEW.submit_time >= 0 THEN NEW.submit_time / 86400000 ELSE -1 END, 1, NEW.id, NEW.id),
    ('all', 0, 3600000, CASE WHEN NEW.submit_time >= 0 THEN NEW.submit_time / 3600000 ELSE -1 END, 1, NEW.id, NEW.id),
    ('all', 0, 60000, CASE WHEN NEW.submit_time >= 0 THEN NEW.submit_time / 60000 ELSE -1 END, 1, NEW.id, NEW.id),
    ('channel', NEW.channel_id, 86400000, CASE WHEN NEW.submit_time >= 0 THEN NEW.submit_time / 86400000 ELSE -1 END, 1, NEW.id, NEW.id),
    ('channel', NEW.channel_id, 3600000, CASE WHEN NEW.submit_time >= 0 THEN NEW.submit_time / 3600000 ELSE -1 END, 1, NEW.id, NEW.id),
    ('channel', NEW.channel_id, 60000, CASE WHEN NEW.submit_time >= 0 THEN NEW.submit_time / 60000 ELSE -1 END, 1, NEW.id, NEW.id),
    ('user', NEW.user_id, 86400000, CASE WHEN NEW.submit_time >= 0 THEN NEW.submit_time / 86400000 ELSE -1 END, 1, NEW.id, NEW.id),
    ('user', NEW.user_id, 3600000, CASE WHEN NEW.submit_time >= 0 THEN NEW.submit_time / 3600000 ELSE -1 END, 1, NEW.id, NEW.id),
    ('user', NEW.user_id, 60000, CASE WHEN NEW.submit_time >= 0 THEN NEW.submit_time / 60000 ELSE -1 END, 1, NEW.id, NEW.id)
    ON CONFLICT (scope, scope_id, span, bucket) DO UPDATE
    SET count = count + excluded.count, min_id = min(min_id, excluded.min_id), max_id = max(max_id, excluded.max_id);
  INSERT INTO task_id_blocks (scope, scope_id, block, count) VALUES ('all', 0, NEW.id / 1024, 1), ('channel', NEW.channel_id, NEW.id / 1024, 1), ('user', NEW.user_id, NEW.id / 1024, 1)
    ON CONFLICT (scope, scope_id, block) DO UPDATE SET count = count + excluded.count;
END;
--> statement-breakpoint
CREATE TRIGGER tasks_listing_filters_move AFTER UPDATE OF user_id, channel_id, status, action ON tasks WHEN (OLD.user_id IS NOT NEW.user_id OR OLD.channel_id IS NOT NEW.channel_id OR OLD.status IS NOT NEW.status OR OLD.action IS NOT NEW.action) AND NOT EXISTS (SELECT 1 FROM task_filter_counts_deferred) BEGIN
  INSERT INTO task_filter_counts (owner, owner_id, status, action, count) VALUES ('all', 0, OLD.status, OLD.action, -1), ('channel', OLD.channel_id, OLD.status, OLD.action, -1), ('user', OLD.user_id, OLD.status, OLD.action, -1), ('all', 0, NEW.status, NEW.action, 1), ('channel', NEW.channel_id, NEW.status, NEW.action, 1), ('user', NEW.user_id, NEW.status, NEW.action, 1)
    ON CONFLICT (owner, owner_id, status, action) DO UPDATE SET count = count + excluded.count;
END;
