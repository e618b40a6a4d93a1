-- Time buckets (minute, hour, day) and id blocks of tasks (see src/db/schema/task-buckets.ts),
-- exact under any write to tasks including plain SQL: backfilled here, then kept by triggers.
-- Bounds (min_id, max_id) only ever widen, so they always contain every id of their bucket.
INSERT INTO task_time_buckets (scope, scope_id, span, bucket, count, min_id, max_id)
  SELECT 'all', 0, 3600000, b, count(*), min(id), max(id)
  FROM (SELECT id, user_id, channel_id, CASE WHEN tasks.submit_time >= 0 THEN tasks.submit_time / 3600000 ELSE -1 END AS b FROM tasks) GROUP BY b;
--> statement-breakpoint
INSERT INTO task_time_buckets (scope, scope_id, span, bucket, count, min_id, max_id)
  SELECT 'all', 0, 86400000, b, count(*), min(id), max(id)
  FROM (SELECT id, user_id, channel_id, CASE WHEN tasks.submit_time >= 0 THEN tasks.submit_time / 86400000 ELSE -1 END AS b FROM tasks) GROUP BY b;
--> statement-breakpoint
INSERT INTO task_id_blocks (scope, scope_id, block, count)
  SELECT 'all', 0, id / 1024, count(*) FROM tasks GROUP BY id / 1024;
--> statement-breakpoint
INSERT INTO task_time_buckets (scope, scope_id, span, bucket, count, min_id, max_id)
  SELECT 'user', user_id, 3600000, b, count(*), min(id), max(id)
  FROM (SELECT id, user_id, channel_id, CASE WHEN tasks.submit_time >= 0 THEN tasks.submit_time / 3600000 ELSE -1 END AS b FROM tasks) GROUP BY user_id, b;
--> statement-breakpoint
INSERT INTO task_time_buckets (scope, scope_id, span, bucket, count, min_id, max_id)
  SELECT 'user', user_id, 86400000, b, count(*), min(id), max(id)
  FROM (SELECT id, user_id, channel_id, CASE WHEN tasks.submit_time >= 0 THEN tasks.submit_time / 86400000 ELSE -1 END AS b FROM tasks) GROUP BY user_id, b;
--> statement-breakpoint
INSERT INTO task_id_blocks (scope, scope_id, block, count)
  SELECT 'user', user_id, id / 1024, count(*) FROM tasks GROUP BY user_id, id / 1024;
--> statement-breakpoint
INSERT INTO task_time_buckets (scope, scope_id, span, bucket, count, min_id, max_id)
  SELECT 'channel', channel_id, 3600000, b, count(*), min(id), max(id)
  FROM (SELECT id, user_id, channel_id, CASE WHEN tasks.submit_time >= 0 THEN tasks.submit_time / 3600000 ELSE -1 END AS b FROM tasks) GROUP BY channel_id, b;
--> statement-breakpoint
INSERT INTO task_time_buckets (scope, scope_id, span, bucket, count, min_id, max_id)
  SELECT 'channel', channel_id, 86400000, b, count(*), min(id), max(id)
  FROM (SELECT id, user_id, channel_id, CASE WHEN tasks.submit_time >= 0 THEN tasks.submit_time / 86400000 ELSE -1 END AS b FROM tasks) GROUP BY channel_id, b;
--> statement-breakpoint
INSERT INTO task_id_blocks (scope, scope_id, block, count)
  SELECT 'channel', channel_id, id / 1024, count(*) FROM tasks GROUP BY channel_id, id / 1024;
--> statement-breakpoint
INSERT INTO task_time_buckets (scope, scope_id, span, bucket, count, min_id, max_id)
  SELECT 'all', 0, 60000, b, count(*), min(id), max(id)
  FROM (SELECT id, user_id, channel_id, CASE WHEN tasks.submit_time >= 0 THEN tasks.submit_time / 60000 ELSE -1 END AS b FROM tasks) GROUP BY b;
--> statement-breakpoint
INSERT INTO task_time_buckets (scope, scope_id, span, bucket, count, min_id, max_id)
  SELECT 'user', user_id, 60000, b, count(*), min(id), max(id)
  FROM (SELECT id, user_id, channel_id, CASE WHEN tasks.submit_time >= 0 THEN tasks.submit_time / 60000 ELSE -1 END AS b FROM tasks) GROUP BY user_id, b;
--> statement-breakpoint
INSERT INTO task_time_buckets (scope, scope_id, span, bucket, count, min_id, max_id)
  SELECT 'channel', channel_id, 60000, b, count(*), min(id), max(id)
  FROM (SELECT id, user_id, channel_id, CASE WHEN tasks.submit_time >= 0 THEN tasks.submit_time / 60000 ELSE -1 END AS b FROM tasks) GROUP BY channel_id, b;
--> statement-breakpoint
CREATE TRIGGER tasks_buckets_insert AFTER INSERT ON tasks BEGIN
  INSERT INTO task_time_buckets (scope, scope_id, span, bucket, count, min_id, max_id)
    VALUES ('all', 0, 60000, CASE WHEN NEW.submit_time >= 0 THEN NEW.submit_time / 60000 ELSE -1 END, 1, NEW.id, NEW.id)
    ON CONFLICT (scope, scope_id, span, bucket) DO UPDATE
    SET count = count + 1, min_id = min(min_id, excluded.min_id), max_id = max(max_id, excluded.max_id);
  INSERT INTO task_time_buckets (scope, scope_id, span, bucket, count, min_id, max_id)
    VALUES ('all', 0, 3600000, CASE WHEN NEW.submit_time >= 0 THEN NEW.submit_time / 3600000 ELSE -1 END, 1, NEW.id, NEW.id)
    ON CONFLICT (scope, scope_id, span, bucket) DO UPDATE
    SET count = count + 1, min_id = min(min_id, excluded.min_id), max_id = max(max_id, excluded.max_id);
  INSERT INTO task_time_buckets (scope, scope_id, span, bucket, count, min_id, max_id)
    VALUES ('all', 0, 86400000, CASE WHEN NEW.submit_time >= 0 THEN NEW.submit_time / 86400000 ELSE -1 END, 1, NEW.id, NEW.id)
    ON CONFLICT (scope, scope_id, span, bucket) DO UPDATE
    SET count = count + 1, min_id = min(min_id, excluded.min_id), max_id = max(max_id, excluded.max_id);
  INSERT INTO task_id_blocks (scope, scope_id, block, count) VALUES ('all', 0, NEW.id / 1024, 1)
    ON CONFLICT (scope, scope_id, block) DO UPDATE SET count = count + 1;
  INSERT INTO task_time_buckets (scope, scope_id, span, bucket, count, min_id, max_id)
    VALUES ('user', NEW.user_id, 60000, CASE WHEN NEW.submit_time >= 0 THEN NEW.submit_time / 60000 ELSE -1 END, 1, NEW.id, NEW.id)
    ON CONFLICT (scope, scope_id, span, bucket) DO UPDATE
    SET count = count + 1, min_id = min(min_id, excluded.min_id), max_id = max(max_id, excluded.max_id);
  INSERT INTO task_time_buckets (scope, scope_id, span, bucket, count, min_id, max_id)
    VALUES ('user', NEW.user_id, 3600000, CASE WHEN NEW.submit_time >= 0 THEN NEW.submit_time / 3600000 ELSE -1 END, 1, NEW.id, NEW.id)
    ON CONFLICT (scope, scope_id, span, bucket) DO UPDATE
    SET count = count + 1, min_id = min(min_id, excluded.min_id), max_id = max(max_id, excluded.max_id);
  INSERT INTO task_time_buckets (scope, scope_id, span, bucket, count, min_id, max_id)
    VALUES ('user', NEW.user_id, 86400000, CASE WHEN NEW.submit_time >= 0 THEN NEW.submit_time / 86400000 ELSE -1 END, 1, NEW.id, NEW.id)
    ON CONFLICT (scope, scope_id, span, bucket) DO UPDATE
    SET count = count + 1, min_id = min(min_id, excluded.min_id), max_id = max(max_id, excluded.max_id);
  INSERT INTO task_id_blocks (scope, scope_id, block, count) VALUES ('user', NEW.user_id, NEW.id / 1024, 1)
    ON CONFLICT (scope, scope_id, block) DO UPDATE SET count = count + 1;
  INSERT INTO task_time_buckets (scope, scope_id, span, bucket, count, min_id, max_id)
    VALUES ('channel', NEW.channel_id, 60000, CASE WHEN NEW.submit_time >= 0 THEN NEW.submit_time / 60000 ELSE -1 END, 1, NEW.id, NEW.id)
    ON CONFLICT (scope, scope_id, span, bucket) DO UPDATE
    SET count = count + 1, min_id = min(min_id, excluded.min_id), max_id = max(max_id, excluded.max_id);
  INSERT INTO task_time_buckets (scope, scope_id, span, bucket, count, min_id, max_id)
    VALUES ('channel', NEW.channel_id, 3600000, CASE WHEN NEW.submit_time >= 0 THEN NEW.submit_time / 3600000 ELSE -1 END, 1, NEW.id, NEW.id)
    ON CONFLICT (scope, scope_id, span, bucket) DO UPDATE
    SET count = count + 1, min_id = min(min_id, excluded.min_id), max_id = max(max_id, excluded.max_id);
  INSERT INTO task_time_buckets (scope, scope_id, span, bucket, count, min_id, max_id)
    VALUES ('channel', NEW.channel_id, 86400000, CASE WHEN NEW.submit_time >= 0 THEN NEW.submit_time / 86400000 ELSE -1 END, 1, NEW.id, NEW.id)
    ON CONFLICT (scope, scope_id, span, bucket) DO UPDATE
    SET count = count + 1, min_id = min(min_id, excluded.min_id), max_id = max(max_id, excluded.max_id);
  INSERT INTO task_id_blocks (scope, scope_id, block, count) VALUES ('channel', NEW.channel_id, NEW.id / 1024, 1)
    ON CONFLICT (scope, scope_id, block) DO UPDATE SET count = count + 1;
END;
--> statement-breakpoint
CREATE TRIGGER tasks_buckets_delete AFTER DELETE ON tasks BEGIN
  UPDATE task_time_buckets SET count = count - 1
    WHERE scope = 'all' AND scope_id = 0 AND span = 60000 AND bucket = CASE WHEN OLD.submit_time >= 0 THEN OLD.submit_time / 60000 ELSE -1 END;
  UPDATE task_time_buckets SET count = count - 1
    WHERE scope = 'all' AND scope_id = 0 AND span = 3600000 AND bucket = CASE WHEN OLD.submit_time >= 0 THEN OLD.submit_time / 3600000 ELSE -1 END;
  UPDATE task_time_buckets SET count = count - 1
    WHERE scope = 'all' AND scope_id = 0 AND span = 86400000 AND bucket = CASE WHEN OLD.submit_time >= 0 THEN OLD.submit_time / 86400000 ELSE -1 END;
  UPDATE task_id_blocks SET count = count - 1 WHERE scope = 'all' AND scope_id = 0 AND block = OLD.id / 1024;
  UPDATE task_time_buckets SET count = count - 1
    WHERE scope = 'user' AND scope_id = OLD.user_id AND span = 60000 AND bucket = CASE WHEN OLD.submit_time >= 0 THEN OLD.submit_time / 60000 ELSE -1 END;
  UPDATE task_time_buckets SET count = count - 1
    WHERE scope = 'user' AND scope_id = OLD.user_id AND span = 3600000 AND bucket = CASE WHEN OLD.submit_time >= 0 THEN OLD.submit_time / 3600000 ELSE -1 END;
  UPDATE task_time_buckets SET count = count - 1
    WHERE scope = 'user' AND scope_id = OLD.user_id AND span = 86400000 AND bucket = CASE WHEN OLD.submit_time >= 0 THEN OLD.submit_time / 86400000 ELSE -1 END;
  UPDATE task_id_blocks SET count = count - 1 WHERE scope = 'user' AND scope_id = OLD.user_id AND block = OLD.id / 1024;
  UPDATE task_time_buckets SET count = count - 1
    WHERE scope = 'channel' AND scope_id = OLD.channel_id AND span = 60000 AND bucket = CASE WHEN OLD.submit_time >= 0 THEN OLD.submit_time / 60000 ELSE -1 END;
  UPDATE task_time_buckets SET count = count - 1
    WHERE scope = 'channel' AND scope_id = OLD.channel_id AND span = 3600000 AND bucket = CASE WHEN OLD.submit_time >= 0 THEN OLD.submit_time / 3600000 ELSE -1 END;
  UPDATE task_time_buckets SET count = count - 1
    WHERE scope = 'channel' AND scope_id = OLD.channel_id AND span = 86400000 AND bucket = CASE WHEN OLD.submit_time >= 0 THEN OLD.submit_time / 86400000 ELSE -1 END;
  UPDATE task_id_blocks SET count = count - 1 WHERE scope = 'channel' AND scope_id = OLD.channel_id AND block = OLD.id / 1024;
END;
--> statement-breakpoint
CREATE TRIGGER tasks_buckets_update AFTER UPDATE OF id, user_id, channel_id, submit_time ON tasks
  WHEN OLD.id IS NOT NEW.id OR OLD.user_id IS NOT NEW.user_id OR OLD.channel_id IS NOT NEW.channel_id
    OR OLD.submit_time IS NOT NEW.submit_time
BEGIN
  UPDATE task_time_buckets SET count = count - 1
    WHERE scope = 'all' AND scope_id = 0 AND span = 60000 AND bucket = CASE WHEN OLD.submit_time >= 0 THEN OLD.submit_time / 60000 ELSE -1 END;
  UPDATE task_time_buckets SET count = count - 1
    WHERE scope = 'all' AND scope_id = 0 AND span = 3600000 AND bucket = CASE WHEN OLD.submit_time >= 0 THEN OLD.submit_time / 3600000 ELSE -1 END;
  UPDATE task_time_buckets SET count = count - 1
    WHERE scope = 'all' AND scope_id = 0 AND span = 86400000 AND bucket = CASE WHEN OLD.submit_time >= 0 THEN OLD.submit_time / 86400000 ELSE -1 END;
  UPDATE task_id_blocks SET count = count - 1 WHERE scope = 'all' AND scope_id = 0 AND block = OLD.id / 1024;
  UPDATE task_time_buckets SET count = count - 1
    WHERE scope = 'user' AND scope_id = OLD.user_id AND span = 60000 AND bucket = CASE WHEN OLD.submit_time >= 0 THEN OLD.submit_time / 60000 ELSE -1 END;
  UPDATE task_time_buckets SET count = count - 1
    WHERE scope = 'user' AND scope_id = OLD.user_id AND span = 3600000 AND bucket = CASE WHEN OLD.submit_time >= 0 THEN OLD.submit_time / 3600000 ELSE -1 END;
  UPDATE task_time_buckets SET count = count - 1
    WHERE scope = 'user' AND scope_id = OLD.user_id AND span = 86400000 AND bucket = CASE WHEN OLD.submit_time >= 0 THEN OLD.submit_time / 86400000 ELSE -1 END;
  UPDATE task_id_blocks SET count = count - 1 WHERE scope = 'user' AND scope_id = OLD.user_id AND block = OLD.id / 1024;
  UPDATE task_time_buckets SET count = count - 1
    WHERE scope = 'channel' AND scope_id = OLD.channel_id AND span = 60000 AND bucket = CASE WHEN OLD.submit_time >= 0 THEN OLD.submit_time / 60000 ELSE -1 END;
  UPDATE task_time_buckets SET count = count - 1
    WHERE scope = 'channel' AND scope_id = OLD.channel_id AND span = 3600000 AND bucket = CASE WHEN OLD.submit_time >= 0 THEN OLD.submit_time / 3600000 ELSE -1 END;
  UPDATE task_time_buckets SET count = count - 1
    WHERE scope = 'channel' AND scope_id = OLD.channel_id AND span = 86400000 AND bucket = CASE WHEN OLD.submit_time >= 0 THEN OLD.submit_time / 86400000 ELSE -1 END;
  UPDATE task_id_blocks SET count = count - 1 WHERE scope = 'channel' AND scope_id = OLD.channel_id AND block = OLD.id / 1024;
  INSERT INTO task_time_buckets (scope, scope_id, span, bucket, count, min_id, max_id)
    VALUES ('all', 0, 60000, CASE WHEN NEW.submit_time >= 0 THEN NEW.submit_time / 60000 ELSE -1 END, 1, NEW.id, NEW.id)
    ON CONFLICT (scope, scope_id, span, bucket) DO UPDATE
    SET count = count + 1, min_id = min(min_id, excluded.min_id), max_id = max(max_id, excluded.max_id);
  INSERT INTO task_time_buckets (scope, scope_id, span, bucket, count, min_id, max_id)
    VALUES ('all', 0, 3600000, CASE WHEN NEW.submit_time >= 0 THEN NEW.submit_time / 3600000 ELSE -1 END, 1, NEW.id, NEW.id)
    ON CONFLICT (scope, scope_id, span, bucket) DO UPDATE
    SET count = count + 1, min_id = min(min_id, excluded.min_id), max_id = max(max_id, excluded.max_id);
  INSERT INTO task_time_buckets (scope, scope_id, span, bucket, count, min_id, max_id)
    VALUES ('all', 0, 86400000, CASE WHEN NEW.submit_time >= 0 THEN NEW.submit_time / 86400000 ELSE -1 END, 1, NEW.id, NEW.id)
    ON CONFLICT (scope, scope_id, span, bucket) DO UPDATE
    SET count = count + 1, min_id = min(min_id, excluded.min_id), max_id = max(max_id, excluded.max_id);
  INSERT INTO task_id_blocks (scope, scope_id, block, count) VALUES ('all', 0, NEW.id / 1024, 1)
    ON CONFLICT (scope, scope_id, block) DO UPDATE SET count = count + 1;
  INSERT INTO task_time_buckets (scope, scope_id, span, bucket, count, min_id, max_id)
    VALUES ('user', NEW.user_id, 60000, CASE WHEN NEW.submit_time >= 0 THEN NEW.submit_time / 60000 ELSE -1 END, 1, NEW.id, NEW.id)
    ON CONFLICT (scope, scope_id, span, bucket) DO UPDATE
    SET count = count + 1, min_id = min(min_id, excluded.min_id), max_id = max(max_id, excluded.max_id);
  INSERT INTO task_time_buckets (scope, scope_id, span, bucket, count, min_id, max_id)
    VALUES ('user', NEW.user_id, 3600000, CASE WHEN NEW.submit_time >= 0 THEN NEW.submit_time / 3600000 ELSE -1 END, 1, NEW.id, NEW.id)
    ON CONFLICT (scope, scope_id, span, bucket) DO UPDATE
    SET count = count + 1, min_id = min(min_id, excluded.min_id), max_id = max(max_id, excluded.max_id);
  INSERT INTO task_time_buckets (scope, scope_id, span, bucket, count, min_id, max_id)
    VALUES ('user', NEW.user_id, 86400000, CASE WHEN NEW.submit_time >= 0 THEN NEW.submit_time / 86400000 ELSE -1 END, 1, NEW.id, NEW.id)
    ON CONFLICT (scope, scope_id, span, bucket) DO UPDATE
    SET count = count + 1, min_id = min(min_id, excluded.min_id), max_id = max(max_id, excluded.max_id);
  INSERT INTO task_id_blocks (scope, scope_id, block, count) VALUES ('user', NEW.user_id, NEW.id / 1024, 1)
    ON CONFLICT (scope, scope_id, block) DO UPDATE SET count = count + 1;
  INSERT INTO task_time_buckets (scope, scope_id, span, bucket, count, min_id, max_id)
    VALUES ('channel', NEW.channel_id, 60000, CASE WHEN NEW.submit_time >= 0 THEN NEW.submit_time / 60000 ELSE -1 END, 1, NEW.id, NEW.id)
    ON CONFLICT (scope, scope_id, span, bucket) DO UPDATE
    SET count = count + 1, min_id = min(min_id, excluded.min_id), max_id = max(max_id, excluded.max_id);
  INSERT INTO task_time_buckets (scope, scope_id, span, bucket, count, min_id, max_id)
    VALUES ('channel', NEW.channel_id, 3600000, CASE WHEN NEW.submit_time >= 0 THEN NEW.submit_time / 3600000 ELSE -1 END, 1, NEW.id, NEW.id)
    ON CONFLICT (scope, scope_id, span, bucket) DO UPDATE
    SET count = count + 1, min_id = min(min_id, excluded.min_id), max_id = max(max_id, excluded.max_id);
  INSERT INTO task_time_buckets (scope, scope_id, span, bucket, count, min_id, max_id)
    VALUES ('channel', NEW.channel_id, 86400000, CASE WHEN NEW.submit_time >= 0 THEN NEW.submit_time / 86400000 ELSE -1 END, 1, NEW.id, NEW.id)
    ON CONFLICT (scope, scope_id, span, bucket) DO UPDATE
    SET count = count + 1, min_id = min(min_id, excluded.min_id), max_id = max(max_id, excluded.max_id);
  INSERT INTO task_id_blocks (scope, scope_id, block, count) VALUES ('channel', NEW.channel_id, NEW.id / 1024, 1)
    ON CONFLICT (scope, scope_id, block) DO UPDATE SET count = count + 1;
END;
