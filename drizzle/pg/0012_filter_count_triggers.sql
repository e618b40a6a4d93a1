-- Generated from src/db/listing-design.ts (scripts/listing-sql.ts pg): do not edit.
INSERT INTO task_filter_counts AS b (owner, owner_id, status, action, slot, count)
  SELECT o.owner, o.owner_id, r.status, r.action, (r.id % 8)::smallint, count(*)
  FROM tasks r CROSS JOIN LATERAL (VALUES ('all', 0), ('channel', r.channel_id), ('user', r.user_id)) AS o(owner, owner_id)
  GROUP BY 1, 2, 3, 4, 5
  ORDER BY 1, 2, 3, 4, 5;
--> statement-breakpoint
CREATE FUNCTION tasks_filter_counts_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO task_filter_counts AS b (owner, owner_id, status, action, slot, count)
  SELECT o.owner, o.owner_id, r.status, r.action, (r.id % 8)::smallint, count(*)
  FROM new_rows r CROSS JOIN LATERAL (VALUES ('all', 0), ('channel', r.channel_id), ('user', r.user_id)) AS o(owner, owner_id)
  GROUP BY 1, 2, 3, 4, 5
  ORDER BY 1, 2, 3, 4, 5
  ON CONFLICT (owner, owner_id, status, action, slot) DO UPDATE SET count = b.count + EXCLUDED.count;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE FUNCTION tasks_filter_counts_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO task_filter_counts AS b (owner, owner_id, status, action, slot, count)
  SELECT o.owner, o.owner_id, r.status, r.action, (r.id % 8)::smallint, -count(*)
  FROM old_rows r CROSS JOIN LATERAL (VALUES ('all', 0), ('channel', r.channel_id), ('user', r.user_id)) AS o(owner, owner_id)
  GROUP BY 1, 2, 3, 4, 5
  ORDER BY 1, 2, 3, 4, 5
  ON CONFLICT (owner, owner_id, status, action, slot) DO UPDATE SET count = b.count + EXCLUDED.count;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE FUNCTION tasks_filter_counts_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF (SELECT count(*) FROM old_rows) = 1 AND
     (SELECT (o.id, o.user_id, o.channel_id, o.status, o.action) FROM old_rows o) IS NOT DISTINCT FROM (SELECT (n.id, n.user_id, n.channel_id, n.status, n.action) FROM new_rows n) THEN
    RETURN NULL;
  END IF;
  INSERT INTO task_filter_counts AS b (owner, owner_id, status, action, slot, count)
  SELECT o.owner, o.owner_id, r.status, r.action, (r.id % 8)::smallint, sum(r.d)
  FROM ((SELECT id, user_id, channel_id, status, action, -1 AS d FROM old_rows EXCEPT ALL SELECT id, user_id, channel_id, status, action, -1 FROM new_rows)
        UNION ALL (SELECT id, user_id, channel_id, status, action, 1 AS d FROM new_rows EXCEPT ALL SELECT id, user_id, channel_id, status, action, 1 FROM old_rows)) r
  CROSS JOIN LATERAL (VALUES ('all', 0), ('channel', r.channel_id), ('user', r.user_id)) AS o(owner, owner_id)
  GROUP BY 1, 2, 3, 4, 5
  HAVING sum(r.d) <> 0
  ORDER BY 1, 2, 3, 4, 5
  ON CONFLICT (owner, owner_id, status, action, slot) DO UPDATE SET count = b.count + EXCLUDED.count;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE FUNCTION tasks_filter_counts_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM task_filter_counts;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER tasks_filter_counts_insert AFTER INSERT ON tasks REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION tasks_filter_counts_insert();
--> statement-breakpoint
CREATE TRIGGER tasks_filter_counts_delete AFTER DELETE ON tasks REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION tasks_filter_counts_delete();
--> statement-breakpoint
CREATE TRIGGER tasks_filter_counts_update AFTER UPDATE ON tasks REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION tasks_filter_counts_update();
--> statement-breakpoint
CREATE TRIGGER tasks_filter_counts_truncate AFTER TRUNCATE ON tasks FOR EACH STATEMENT EXECUTE FUNCTION tasks_filter_counts_truncate();
