-- Issue 15: a cheaper PostgreSQL submit. The listing tables move toward SQLite's shape, and a
-- one-row insert (every submit) skips the set-based path:
--  * buckets of an hour and a day (the 16-day level goes: a long range sums day buckets, as on
--    SQLite) and one id-block level (1024 ids; the 65536-id level goes): 12 upserted rows per
--    task insert instead of 18;
--  * the insert trigger stays one statement-level trigger (a multi-row insert is still applied
--    set-based, sorted, so concurrent writers of any size cannot deadlock on these rows), but a
--    statement that inserted one row upserts it with three plain INSERT … VALUES … ON CONFLICT
--    (no unnest, grouping or sorting), each VALUES list in key order ('all' < 'channel' < 'user',
--    then span or level), tables in the same order as tasks_listing_apply: buckets, blocks, counters.
-- Updates, deletes and truncates keep their 0008 triggers (through the new tasks_listing_apply).
-- Every total stays exact under any plain SQL write (SPEC §4); only the rows of the dropped levels go.
DELETE FROM task_time_buckets WHERE span <> 3600000 AND span <> 86400000;
--> statement-breakpoint
DELETE FROM task_id_blocks WHERE level <> 0;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION tasks_listing_apply(p_id integer[], p_user integer[], p_channel integer[], p_time bigint[], p_delta integer[])
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO task_time_buckets (scope, scope_id, span, bucket, slot, count, min_id, max_id)
  SELECT s.scope, s.scope_id, sp.span, CASE WHEN r.t >= 0 THEN r.t / sp.span ELSE -1 END, (r.id % 8)::smallint,
         sum(r.d)::bigint, min(r.id), max(r.id)
  FROM unnest(p_id, p_user, p_channel, p_time, p_delta) AS r(id, u, c, t, d)
  CROSS JOIN (VALUES (3600000), (86400000)) AS sp(span)
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
  SELECT s.scope, s.scope_id, 0::smallint, r.id >> 10, (r.id % 8)::smallint, sum(r.d)::bigint
  FROM unnest(p_id, p_user, p_channel, p_delta) AS r(id, u, c, d)
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
-- new_rows holds one row or more: one row takes the plain path, more go through tasks_listing_apply.
CREATE OR REPLACE FUNCTION tasks_listing_insert() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  n bigint;
  i integer;
  u integer;
  c integer;
  t bigint;
  s smallint;
  h bigint;
  d bigint;
BEGIN
  SELECT count(*), min(r.id), min(r.user_id), min(r.channel_id), min(r.submit_time) INTO n, i, u, c, t FROM new_rows r;
  IF n = 0 THEN
    RETURN NULL;
  END IF;
  IF n > 1 THEN
    PERFORM tasks_listing_apply(array_agg(id), array_agg(user_id), array_agg(channel_id), array_agg(submit_time), array_agg(1))
    FROM new_rows;
    RETURN NULL;
  END IF;
  s := (i % 8)::smallint;
  h := CASE WHEN t >= 0 THEN t / 3600000 ELSE -1 END;
  d := CASE WHEN t >= 0 THEN t / 86400000 ELSE -1 END;
  INSERT INTO task_time_buckets AS b (scope, scope_id, span, bucket, slot, count, min_id, max_id) VALUES
    ('all', 0, 3600000, h, s, 1, i, i), ('all', 0, 86400000, d, s, 1, i, i),
    ('channel', c, 3600000, h, s, 1, i, i), ('channel', c, 86400000, d, s, 1, i, i),
    ('user', u, 3600000, h, s, 1, i, i), ('user', u, 86400000, d, s, 1, i, i)
  ON CONFLICT (scope, scope_id, span, bucket, slot) DO UPDATE
  SET count = b.count + 1, min_id = least(b.min_id, EXCLUDED.min_id), max_id = greatest(b.max_id, EXCLUDED.max_id);
  INSERT INTO task_id_blocks AS b (scope, scope_id, level, block, slot, count) VALUES
    ('all', 0, 0, i >> 10, s, 1), ('channel', c, 0, i >> 10, s, 1), ('user', u, 0, i >> 10, s, 1)
  ON CONFLICT (scope, scope_id, level, block, slot) DO UPDATE SET count = b.count + 1;
  INSERT INTO task_counters AS b (scope, scope_id, slot, count) VALUES ('all', 0, s, 1), ('channel', c, s, 1), ('user', u, s, 1)
  ON CONFLICT (scope, scope_id, slot) DO UPDATE SET count = b.count + 1;
  RETURN NULL;
END $$;
