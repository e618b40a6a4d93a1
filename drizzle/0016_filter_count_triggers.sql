-- Generated from src/db/listing-design.ts (scripts/listing-sql.ts sqlite): do not edit.
DROP TABLE task_filter_counts;
--> statement-breakpoint
CREATE TABLE task_filter_counts (owner text NOT NULL, owner_id integer NOT NULL, status text NOT NULL, action text NOT NULL, count integer DEFAULT 0 NOT NULL, PRIMARY KEY(owner, owner_id, status, action)) WITHOUT ROWID;
--> statement-breakpoint
INSERT INTO task_filter_counts (owner, owner_id, status, action, count)
  SELECT 'all', 0, status, action, count(*) FROM tasks GROUP BY status, action;
--> statement-breakpoint
INSERT INTO task_filter_counts (owner, owner_id, status, action, count)
  SELECT 'channel', channel_id, status, action, count(*) FROM tasks GROUP BY channel_id, status, action;
--> statement-breakpoint
INSERT INTO task_filter_counts (owner, owner_id, status, action, count)
  SELECT 'user', user_id, status, action, count(*) FROM tasks GROUP BY user_id, status, action;
--> statement-breakpoint
CREATE TRIGGER tasks_filter_counts_insert AFTER INSERT ON tasks BEGIN
  INSERT INTO task_filter_counts (owner, owner_id, status, action, count) VALUES ('all', 0, NEW.status, NEW.action, 1), ('channel', NEW.channel_id, NEW.status, NEW.action, 1), ('user', NEW.user_id, NEW.status, NEW.action, 1)
    ON CONFLICT (owner, owner_id, status, action) DO UPDATE SET count = count + excluded.count;
END;
--> statement-breakpoint
CREATE TRIGGER tasks_filter_counts_delete AFTER DELETE ON tasks BEGIN
  INSERT INTO task_filter_counts (owner, owner_id, status, action, count) VALUES ('all', 0, OLD.status, OLD.action, -1), ('channel', OLD.channel_id, OLD.status, OLD.action, -1), ('user', OLD.user_id, OLD.status, OLD.action, -1)
    ON CONFLICT (owner, owner_id, status, action) DO UPDATE SET count = count + excluded.count;
END;
--> statement-breakpoint
CREATE TRIGGER tasks_filter_counts_update AFTER UPDATE OF user_id, channel_id, status, action ON tasks WHEN OLD.user_id IS NOT NEW.user_id OR OLD.channel_id IS NOT NEW.channel_id OR OLD.status IS NOT NEW.status OR OLD.action IS NOT NEW.action BEGIN
  INSERT INTO task_filter_counts (owner, owner_id, status, action, count) VALUES ('all', 0, OLD.status, OLD.action, -1), ('channel', OLD.channel_id, OLD.status, OLD.action, -1), ('user', OLD.user_id, OLD.status, OLD.action, -1)
    ON CONFLICT (owner, owner_id, status, action) DO UPDATE SET count = count + excluded.count;
  INSERT INTO task_filter_counts (owner, owner_id, status, action, count) VALUES ('all', 0, NEW.status, NEW.action, 1), ('channel', NEW.channel_id, NEW.status, NEW.action, 1), ('user', NEW.user_id, NEW.status, NEW.action, 1)
    ON CONFLICT (owner, owner_id, status, action) DO UPDATE SET count = count + excluded.count;
END;
