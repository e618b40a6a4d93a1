-- Keep task_counters exact under any write to tasks, plain SQL by operators included. Each scope
-- has 8 slots chosen by the task id, so concurrent submits rarely wait on the same counter row;
-- readers sum the slots. Statement-level triggers fold a whole statement into one upsert per
-- counter row, taken in key order, so concurrent bulk writes cannot deadlock on the counters.
INSERT INTO task_counters (scope, scope_id, slot, count)
  SELECT 'all', 0, id % 8, count(*) FROM tasks GROUP BY id % 8;
--> statement-breakpoint
INSERT INTO task_counters (scope, scope_id, slot, count)
  SELECT 'user', user_id, id % 8, count(*) FROM tasks GROUP BY user_id, id % 8;
--> statement-breakpoint
INSERT INTO task_counters (scope, scope_id, slot, count)
  SELECT 'channel', channel_id, id % 8, count(*) FROM tasks GROUP BY channel_id, id % 8;
--> statement-breakpoint
CREATE FUNCTION tasks_count_apply(p_rows jsonb) RETURNS void LANGUAGE sql AS $$
  INSERT INTO task_counters (scope, scope_id, slot, count)
  SELECT d.scope, d.scope_id, d.slot, d.n FROM (
    SELECT s.scope, s.scope_id, s.slot, sum(s.delta)::bigint AS n
    FROM jsonb_to_recordset(p_rows) AS r(id integer, user_id integer, channel_id integer, delta integer)
    CROSS JOIN LATERAL (VALUES ('all', 0, (r.id % 8)::smallint, r.delta),
                               ('user', r.user_id, (r.id % 8)::smallint, r.delta),
                               ('channel', r.channel_id, (r.id % 8)::smallint, r.delta)) AS s(scope, scope_id, slot, delta)
    GROUP BY s.scope, s.scope_id, s.slot
    HAVING sum(s.delta) <> 0
  ) d
  ORDER BY d.scope, d.scope_id, d.slot
  ON CONFLICT (scope, scope_id, slot) DO UPDATE SET count = task_counters.count + EXCLUDED.count;
$$;
--> statement-breakpoint
CREATE FUNCTION tasks_count_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM tasks_count_apply((SELECT jsonb_agg(jsonb_build_object('id', id, 'user_id', user_id, 'channel_id', channel_id, 'delta', 1)) FROM new_rows));
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE FUNCTION tasks_count_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM tasks_count_apply((SELECT jsonb_agg(jsonb_build_object('id', id, 'user_id', user_id, 'channel_id', channel_id, 'delta', -1)) FROM old_rows));
  RETURN NULL;
END $$;
--> statement-breakpoint
-- An update moves rows between counters only when it changes id, user_id or channel_id: the
-- common poller update (progress, status, ...) finds nothing changed and writes nothing.
CREATE FUNCTION tasks_count_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM old_rows o FULL JOIN new_rows n USING (id)
             WHERE o.id IS NULL OR n.id IS NULL OR o.user_id <> n.user_id OR o.channel_id <> n.channel_id) THEN
    PERFORM tasks_count_apply((
      SELECT jsonb_agg(x) FROM (
        SELECT jsonb_build_object('id', id, 'user_id', user_id, 'channel_id', channel_id, 'delta', -1) AS x FROM old_rows
        UNION ALL
        SELECT jsonb_build_object('id', id, 'user_id', user_id, 'channel_id', channel_id, 'delta', 1) FROM new_rows
      ) u));
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER tasks_count_insert AFTER INSERT ON tasks REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION tasks_count_insert();
--> statement-breakpoint
CREATE TRIGGER tasks_count_delete AFTER DELETE ON tasks REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION tasks_count_delete();
--> statement-breakpoint
CREATE TRIGGER tasks_count_update AFTER UPDATE ON tasks REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION tasks_count_update();
--> statement-breakpoint
CREATE FUNCTION tasks_count_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM task_counters;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER tasks_count_truncate AFTER TRUNCATE ON tasks
  FOR EACH STATEMENT EXECUTE FUNCTION tasks_count_truncate();
