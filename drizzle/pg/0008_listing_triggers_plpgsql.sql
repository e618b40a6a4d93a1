-- One statement-level trigger per kind of write keeps task_time_buckets, task_id_blocks and
-- task_counters (0001, 0003) where six did, all in PL/pgSQL: a task insert was two trigger calls,
-- a jsonb round of its rows and a SQL-language counter function planned again on every call
-- (issue 15: 0.9-1.2 ms of server CPU per insert). Same rows, same slots, same lock order
-- (buckets, blocks, then counters, each upsert in key order), so concurrent writers still cannot
-- deadlock on them and every total stays exact.
DROP TRIGGER tasks_count_insert ON tasks;
--> statement-breakpoint
DROP TRIGGER tasks_count_delete ON tasks;
--> statement-breakpoint
DROP TRIGGER tasks_count_update ON tasks;
--> statement-breakpoint
DROP TRIGGER tasks_count_truncate ON tasks;
--> statement-breakpoint
DROP TRIGGER tasks_bucket_insert ON tasks;
--> statement-breakpoint
DROP TRIGGER tasks_bucket_delete ON tasks;
--> statement-breakpoint
DROP TRIGGER tasks_bucket_update ON tasks;
--> statement-breakpoint
DROP TRIGGER tasks_bucket_truncate ON tasks;
--> statement-breakpoint
DROP FUNCTION tasks_count_insert(), tasks_count_delete(), tasks_count_update(), tasks_count_truncate(), tasks_count_apply(jsonb),
  tasks_bucket_insert(), tasks_bucket_delete(), tasks_bucket_update(), tasks_bucket_truncate(),
  tasks_bucket_apply(integer[], integer[], integer[], bigint[], integer[]);
--> statement-breakpoint
-- Each row is one (id, user_id, channel_id, submit_time) with delta +1 (now present) or -1 (gone).
CREATE FUNCTION tasks_listing_apply(p_id integer[], p_user integer[], p_channel integer[], p_time bigint[], p_delta integer[])
RETURNS void LANGUAGE plpgsql AS $$
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
  INSERT INTO task_counters (scope, scope_id, slot, count)
  SELECT s.scope, s.scope_id, (r.id % 8)::smallint, sum(r.d)::bigint
  FROM unnest(p_id, p_user, p_channel, p_delta) AS r(id, u, c, d)
  CROSS JOIN LATERAL (VALUES ('all', 0), ('user', r.u), ('channel', r.c)) AS s(scope, scope_id)
  GROUP BY 1, 2, 3
  HAVING sum(r.d) <> 0
  ORDER BY 1, 2, 3
  ON CONFLICT (scope, scope_id, slot) DO UPDATE SET count = task_counters.count + EXCLUDED.count;
END $$;
--> statement-breakpoint
CREATE FUNCTION tasks_listing_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM tasks_listing_apply(array_agg(id), array_agg(user_id), array_agg(channel_id), array_agg(submit_time), array_agg(1))
  FROM new_rows HAVING count(*) > 0;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE FUNCTION tasks_listing_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM tasks_listing_apply(array_agg(id), array_agg(user_id), array_agg(channel_id), array_agg(submit_time), array_agg(-1))
  FROM old_rows HAVING count(*) > 0;
  RETURN NULL;
END $$;
--> statement-breakpoint
-- Only rows whose id, user_id, channel_id or submit_time changed move: the poller's updates
-- (progress, status, ...) leave both sides equal and write nothing. A row whose submit_time alone
-- changed nets to zero on the counters and is dropped there by the HAVING.
CREATE FUNCTION tasks_listing_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM tasks_listing_apply(array_agg(id), array_agg(user_id), array_agg(channel_id), array_agg(submit_time), array_agg(d))
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
CREATE FUNCTION tasks_listing_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM task_time_buckets;
  DELETE FROM task_id_blocks;
  DELETE FROM task_counters;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER tasks_listing_insert AFTER INSERT ON tasks REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION tasks_listing_insert();
--> statement-breakpoint
CREATE TRIGGER tasks_listing_delete AFTER DELETE ON tasks REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION tasks_listing_delete();
--> statement-breakpoint
CREATE TRIGGER tasks_listing_update AFTER UPDATE ON tasks REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION tasks_listing_update();
--> statement-breakpoint
CREATE TRIGGER tasks_listing_truncate AFTER TRUNCATE ON tasks
  FOR EACH STATEMENT EXECUTE FUNCTION tasks_listing_truncate();
--> statement-breakpoint
-- Aborts the statement that calls it (and so its implicit transaction) with SQLSTATE MJ001: a
-- guarded write found one guard short after an earlier sub-statement already wrote, in one round trip.
CREATE FUNCTION mj_refuse(p_reason text) RETURNS integer LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '%', p_reason USING ERRCODE = 'MJ001';
END $$;
