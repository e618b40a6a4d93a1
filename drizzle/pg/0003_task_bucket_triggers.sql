-- Keep task_time_buckets and task_id_blocks (src/db/pg/schema/task-buckets.ts) exact under any
-- write to tasks, plain SQL by operators included. Statement-level triggers fold a statement's
-- rows into one upsert per bucket/block slot, taken in key order (buckets, then blocks, then the
-- counters of 0001: triggers fire in name order), so concurrent writers cannot deadlock on them.
-- Each row is one (id, user_id, channel_id, submit_time) with delta +1 (now present) or -1 (gone).
CREATE FUNCTION tasks_bucket_apply(p_id integer[], p_user integer[], p_channel integer[], p_time bigint[], p_delta integer[])
RETURNS void LANGUAGE plpgsql AS $$
-- PL/pgSQL, not SQL: its plans are kept per session, a SQL function's are made again per call.
BEGIN
  INSERT INTO task_time_buckets (scope, scope_id, span, bucket, slot, count, min_id, max_id)
  SELECT s.scope, s.scope_id, sp.span, CASE WHEN r.t >= 0 THEN r.t / sp.span ELSE -1 END, (r.id % 8)::smallint,
         sum(r.d)::bigint, min(r.id), max(r.id)
  FROM unnest(p_id, p_user, p_channel, p_time, p_delta) AS r(id, u, c, t, d)
  CROSS JOIN (VALUES (3600000), (86400000), (1382400000)) AS sp(span)
  CROSS JOIN LATERAL (VALUES ('all', 0), ('user', r.u), ('channel', r.c)) AS s(scope, scope_id)
  GROUP BY 1, 2, 3, 4, 5
  -- A slot that only gained and lost rows still upserts when a row arrived: its id bounds widen.
  HAVING sum(r.d) <> 0 OR max(r.d) > 0
  ORDER BY 1, 2, 3, 4, 5
  ON CONFLICT (scope, scope_id, span, bucket, slot) DO UPDATE
  SET count = task_time_buckets.count + EXCLUDED.count,
      min_id = least(task_time_buckets.min_id, EXCLUDED.min_id),
      max_id = greatest(task_time_buckets.max_id, EXCLUDED.max_id);
  INSERT INTO task_id_blocks (scope, scope_id, level, block, slot, count)
  SELECT s.scope, s.scope_id, lv.level, r.id >> lv.shift, (r.id % 8)::smallint, sum(r.d)::bigint
  FROM unnest(p_id, p_user, p_channel, p_delta) AS r(id, u, c, d)
  CROSS JOIN (VALUES (0::smallint, 10), (1::smallint, 16)) AS lv(level, shift)
  CROSS JOIN LATERAL (VALUES ('all', 0), ('user', r.u), ('channel', r.c)) AS s(scope, scope_id)
  GROUP BY 1, 2, 3, 4, 5
  HAVING sum(r.d) <> 0
  ORDER BY 1, 2, 3, 4, 5
  ON CONFLICT (scope, scope_id, level, block, slot) DO UPDATE SET count = task_id_blocks.count + EXCLUDED.count;
END $$;
--> statement-breakpoint
SELECT tasks_bucket_apply(array_agg(id), array_agg(user_id), array_agg(channel_id), array_agg(submit_time), array_agg(1))
FROM tasks HAVING count(*) > 0;
--> statement-breakpoint
CREATE FUNCTION tasks_bucket_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM tasks_bucket_apply(array_agg(id), array_agg(user_id), array_agg(channel_id), array_agg(submit_time), array_agg(1))
  FROM new_rows HAVING count(*) > 0;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE FUNCTION tasks_bucket_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM tasks_bucket_apply(array_agg(id), array_agg(user_id), array_agg(channel_id), array_agg(submit_time), array_agg(-1))
  FROM old_rows HAVING count(*) > 0;
  RETURN NULL;
END $$;
--> statement-breakpoint
-- Only rows whose id, user_id, channel_id or submit_time changed move: the poller's updates
-- (progress, status, ...) leave both sides equal and write nothing.
CREATE FUNCTION tasks_bucket_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM tasks_bucket_apply(array_agg(id), array_agg(user_id), array_agg(channel_id), array_agg(submit_time), array_agg(d))
  FROM (
    (SELECT id, user_id, channel_id, submit_time, -1 AS d FROM old_rows
     EXCEPT ALL SELECT id, user_id, channel_id, submit_time, -1 FROM new_rows)
    UNION ALL
    (SELECT id, user_id, channel_id, submit_time, 1 AS d FROM new_rows
     EXCEPT ALL SELECT id, user_id, channel_id, submit_time, 1 FROM old_rows)
  ) moved
  HAVING count(*) > 0;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER tasks_bucket_insert AFTER INSERT ON tasks REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION tasks_bucket_insert();
--> statement-breakpoint
CREATE TRIGGER tasks_bucket_delete AFTER DELETE ON tasks REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION tasks_bucket_delete();
--> statement-breakpoint
CREATE TRIGGER tasks_bucket_update AFTER UPDATE ON tasks REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION tasks_bucket_update();
--> statement-breakpoint
CREATE FUNCTION tasks_bucket_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM task_time_buckets;
  DELETE FROM task_id_blocks;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER tasks_bucket_truncate AFTER TRUNCATE ON tasks
  FOR EACH STATEMENT EXECUTE FUNCTION tasks_bucket_truncate();
--> statement-breakpoint
-- The exact row count and id bounds of one scope's submit_time range (src/db/pg/task-windows.ts):
-- whole bucket runs (span, first, last) summed, plus two partial hours [e0, e1], [e2, e3] counted
-- exactly. PL/pgSQL keeps its plans per session and the SET makes them generic: planned once, not
-- re-planned per call (which cost more than running them at a million rows).
CREATE FUNCTION tasks_range_window(p_scope text, p_scope_id integer, p_spans integer[], p_from bigint[], p_to bigint[],
  p_e0 bigint, p_e1 bigint, p_e2 bigint, p_e3 bigint, OUT n bigint, OUT lo integer, OUT hi integer)
LANGUAGE plpgsql STABLE SET plan_cache_mode = force_generic_plan AS $$
DECLARE
  en bigint;
  elo integer;
  ehi integer;
BEGIN
  SELECT coalesce(sum(b.count), 0), min(b.min_id), max(b.max_id) INTO n, lo, hi
  FROM unnest(p_spans, p_from, p_to) AS r(span, a, z)
  CROSS JOIN LATERAL (
    SELECT t.count, t.min_id, t.max_id FROM task_time_buckets t
    WHERE t.scope = p_scope AND t.scope_id = p_scope_id AND t.span = r.span AND t.bucket BETWEEN r.a AND r.z AND t.count <> 0
  ) b;
  IF p_scope = 'user' THEN
    SELECT count(*), min(x.id), max(x.id) INTO en, elo, ehi FROM (
      SELECT id FROM tasks WHERE user_id = p_scope_id AND submit_time BETWEEN p_e0 AND p_e1
      UNION ALL SELECT id FROM tasks WHERE user_id = p_scope_id AND submit_time BETWEEN p_e2 AND p_e3) x;
  ELSIF p_scope = 'channel' THEN
    SELECT count(*), min(x.id), max(x.id) INTO en, elo, ehi FROM (
      SELECT id FROM tasks WHERE channel_id = p_scope_id AND submit_time BETWEEN p_e0 AND p_e1
      UNION ALL SELECT id FROM tasks WHERE channel_id = p_scope_id AND submit_time BETWEEN p_e2 AND p_e3) x;
  ELSE
    SELECT count(*), min(x.id), max(x.id) INTO en, elo, ehi FROM (
      SELECT id FROM tasks WHERE submit_time BETWEEN p_e0 AND p_e1
      UNION ALL SELECT id FROM tasks WHERE submit_time BETWEEN p_e2 AND p_e3) x;
  END IF;
  n := n + en;
  lo := least(lo, elo);
  hi := greatest(hi, ehi);
END $$;
