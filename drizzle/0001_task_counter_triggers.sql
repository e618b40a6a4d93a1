-- Keep task_counters exact under any write to tasks, including plain SQL by operators.
INSERT INTO task_counters (scope, scope_id, count) SELECT 'all', 0, count(*) FROM tasks;
--> statement-breakpoint
INSERT INTO task_counters (scope, scope_id, count) SELECT 'user', user_id, count(*) FROM tasks GROUP BY user_id;
--> statement-breakpoint
INSERT INTO task_counters (scope, scope_id, count) SELECT 'channel', channel_id, count(*) FROM tasks GROUP BY channel_id;
--> statement-breakpoint
CREATE TRIGGER tasks_count_insert AFTER INSERT ON tasks BEGIN
  INSERT INTO task_counters (scope, scope_id, count) VALUES ('all', 0, 1)
    ON CONFLICT (scope, scope_id) DO UPDATE SET count = count + 1;
  INSERT INTO task_counters (scope, scope_id, count) VALUES ('user', NEW.user_id, 1)
    ON CONFLICT (scope, scope_id) DO UPDATE SET count = count + 1;
  INSERT INTO task_counters (scope, scope_id, count) VALUES ('channel', NEW.channel_id, 1)
    ON CONFLICT (scope, scope_id) DO UPDATE SET count = count + 1;
END;
--> statement-breakpoint
CREATE TRIGGER tasks_count_delete AFTER DELETE ON tasks BEGIN
  UPDATE task_counters SET count = count - 1 WHERE scope = 'all' AND scope_id = 0;
  UPDATE task_counters SET count = count - 1 WHERE scope = 'user' AND scope_id = OLD.user_id;
  UPDATE task_counters SET count = count - 1 WHERE scope = 'channel' AND scope_id = OLD.channel_id;
END;
--> statement-breakpoint
CREATE TRIGGER tasks_count_move_user AFTER UPDATE OF user_id ON tasks WHEN OLD.user_id <> NEW.user_id BEGIN
  UPDATE task_counters SET count = count - 1 WHERE scope = 'user' AND scope_id = OLD.user_id;
  INSERT INTO task_counters (scope, scope_id, count) VALUES ('user', NEW.user_id, 1)
    ON CONFLICT (scope, scope_id) DO UPDATE SET count = count + 1;
END;
--> statement-breakpoint
CREATE TRIGGER tasks_count_move_channel AFTER UPDATE OF channel_id ON tasks WHEN OLD.channel_id <> NEW.channel_id BEGIN
  UPDATE task_counters SET count = count - 1 WHERE scope = 'channel' AND scope_id = OLD.channel_id;
  INSERT INTO task_counters (scope, scope_id, count) VALUES ('channel', NEW.channel_id, 1)
    ON CONFLICT (scope, scope_id) DO UPDATE SET count = count + 1;
END;
