-- Generated from src/db/listing-design.ts (bun scripts/listing-sql.ts pg-triggers): do not edit.
DROP TRIGGER IF EXISTS tasks_filter_counts_insert ON tasks;
--> statement-breakpoint
DROP TRIGGER IF EXISTS tasks_filter_counts_delete ON tasks;
--> statement-breakpoint
DROP TRIGGER IF EXISTS tasks_filter_counts_update ON tasks;
--> statement-breakpoint
DROP TRIGGER IF EXISTS tasks_filter_counts_truncate ON tasks;
--> statement-breakpoint
DROP FUNCTION IF EXISTS tasks_filter_counts_insert(), tasks_filter_counts_delete(), tasks_filter_counts_update(), tasks_filter_counts_truncate();
--> statement-breakpoint
CREATE OR REPLACE FUNCTION tasks_listing_apply(p_id integer[], p_user integer[], p_channel integer[], p_time bigint[], p_delta integer[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO task_time_buckets (scope, scope_id, span, bucket, slot, count, min_id, max_id)
  SELECT s.scope, s.scope_id, sp.span, CASE WHEN r.t >= 0 THEN r.t / sp.span ELSE -1 END, (r.id % 8)::smallint,
         sum(r.d)::bigint, min(r.id), max(r.id)
  FROM unnest(p_id, p_user, p_channel, p_time, p_delta) AS r(id, u, c, t, d)
  CROSS JOIN (VALUES (86400000), (3600000)) AS sp(span)
  CROSS JOIN LATERAL (VALUES ('all', 0), ('channel', r.c), ('user', r.u)) AS s(scope, scope_id)
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
  CROSS JOIN LATERAL (VALUES ('all', 0), ('channel', r.c), ('user', r.u)) AS s(scope, scope_id)
  GROUP BY 1, 2, 3, 4, 5
  HAVING sum(r.d) <> 0
  ORDER BY 1, 2, 3, 4, 5
  ON CONFLICT (scope, scope_id, level, block, slot) DO UPDATE SET count = task_id_blocks.count + EXCLUDED.count;
  INSERT INTO task_counters (scope, scope_id, slot, count)
  SELECT s.scope, s.scope_id, (r.id % 8)::smallint, sum(r.d)::bigint
  FROM unnest(p_id, p_user, p_channel, p_delta) AS r(id, u, c, d)
  CROSS JOIN LATERAL (VALUES ('all', 0), ('channel', r.c), ('user', r.u)) AS s(scope, scope_id)
  GROUP BY 1, 2, 3
  HAVING sum(r.d) <> 0
  ORDER BY 1, 2, 3
  ON CONFLICT (scope, scope_id, slot) DO UPDATE SET count = task_counters.count + EXCLUDED.count;
END $$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION tasks_filter_counts_apply(p_id integer[], p_user integer[], p_channel integer[], p_status text[], p_action text[], p_delta integer[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO task_filter_counts (owner, owner_id, status, action, slot, count)
  SELECT o.owner, o.owner_id, r.status, r.action, (r.id % 8)::smallint, sum(r.d)::bigint
  FROM unnest(p_id, p_user, p_channel, p_status, p_action, p_delta) AS r(id, u, c, status, action, d)
  CROSS JOIN LATERAL (VALUES ('all', 0), ('channel', r.c), ('user', r.u)) AS o(owner, owner_id)
  GROUP BY 1, 2, 3, 4, 5
  HAVING sum(r.d) <> 0
  ORDER BY 1, 2, 3, 4, 5
  ON CONFLICT (owner, owner_id, status, action, slot) DO UPDATE SET count = task_filter_counts.count + EXCLUDED.count;
END $$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION tasks_listing_insert() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  n bigint;
  i integer;
  u integer;
  c integer;
  t bigint;
  s smallint;
  v_status text;
  v_action text;
BEGIN
  SELECT count(*), min(r.id), min(r.user_id), min(r.channel_id), min(r.submit_time), min(r.status), min(r.action)
  INTO n, i, u, c, t, v_status, v_action FROM new_rows r;
  IF n = 0 THEN
    RETURN NULL;
  END IF;
  IF n > 1 THEN
  PERFORM tasks_listing_apply(array_agg(id), array_agg(user_id), array_agg(channel_id), array_agg(submit_time), array_agg(1))
  FROM new_rows HAVING count(*) > 0;
  PERFORM tasks_filter_counts_apply(array_agg(id), array_agg(user_id), array_agg(channel_id), array_agg(status), array_agg(action), array_agg(1))
  FROM new_rows HAVING count(*) > 0;
    RETURN NULL;
  END IF;
  s := (i % 8)::smallint;
  INSERT INTO task_time_buckets AS b (scope, scope_id, span, bucket, slot, count, min_id, max_id) VALUES
    ('all', 0, 3600000, CASE WHEN t >= 0 THEN t / 3600000 ELSE -1 END, s, 1, i, i),
    ('all', 0, 86400000, CASE WHEN t >= 0 THEN t / 86400000 ELSE -1 END, s, 1, i, i),
    ('channel', c, 3600000, CASE WHEN t >= 0 THEN t / 3600000 ELSE -1 END, s, 1, i, i),
    ('channel', c, 86400000, CASE WHEN t >= 0 THEN t / 86400000 ELSE -1 END, s, 1, i, i),
    ('user', u, 3600000, CASE WHEN t >= 0 THEN t / 3600000 ELSE -1 END, s, 1, i, i),
    ('user', u, 86400000, CASE WHEN t >= 0 THEN t / 86400000 ELSE -1 END, s, 1, i, i)
  ON CONFLICT (scope, scope_id, span, bucket, slot) DO UPDATE
  SET count = b.count + 1, min_id = least(b.min_id, EXCLUDED.min_id), max_id = greatest(b.max_id, EXCLUDED.max_id);
  INSERT INTO task_id_blocks AS b (scope, scope_id, level, block, slot, count) VALUES
    ('all', 0, 0, i >> 10, s, 1), ('channel', c, 0, i >> 10, s, 1), ('user', u, 0, i >> 10, s, 1)
  ON CONFLICT (scope, scope_id, level, block, slot) DO UPDATE SET count = b.count + 1;
  INSERT INTO task_counters AS b (scope, scope_id, slot, count) VALUES
    ('all', 0, s, 1), ('channel', c, s, 1), ('user', u, s, 1)
  ON CONFLICT (scope, scope_id, slot) DO UPDATE SET count = b.count + 1;
  INSERT INTO task_filter_counts AS b (owner, owner_id, status, action, slot, count) VALUES
    ('all', 0, v_status, v_action, s, 1), ('channel', c, v_status, v_action, s, 1), ('user', u, v_status, v_action, s, 1)
  ON CONFLICT (owner, owner_id, status, action, slot) DO UPDATE SET count = b.count + 1;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION tasks_listing_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM tasks_listing_apply(array_agg(id), array_agg(user_id), array_agg(channel_id), array_agg(submit_time), array_agg(-1))
  FROM old_rows HAVING count(*) > 0;
  PERFORM tasks_filter_counts_apply(array_agg(id), array_agg(user_id), array_agg(channel_id), array_agg(status), array_agg(action), array_agg(-1))
  FROM old_rows HAVING count(*) > 0;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION tasks_listing_update() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  n bigint;
  o_id integer;
  o_user_id integer;
  o_channel_id integer;
  o_submit_time bigint;
  o_status text;
  o_action text;
  n_id integer;
  n_user_id integer;
  n_channel_id integer;
  n_submit_time bigint;
  n_status text;
  n_action text;
BEGIN
  SELECT count(*), min(r.id), min(r.user_id), min(r.channel_id), min(r.submit_time), min(r.status), min(r.action) INTO n, o_id, o_user_id, o_channel_id, o_submit_time, o_status, o_action FROM old_rows r;
  IF n = 0 THEN
    RETURN NULL;
  END IF;
  IF n = 1 THEN
    SELECT r.id, r.user_id, r.channel_id, r.submit_time, r.status, r.action INTO n_id, n_user_id, n_channel_id, n_submit_time, n_status, n_action FROM new_rows r;
    IF (o_id, o_user_id, o_channel_id, o_submit_time) IS NOT DISTINCT FROM (n_id, n_user_id, n_channel_id, n_submit_time) THEN
      IF (o_id, o_user_id, o_channel_id, o_status, o_action) IS NOT DISTINCT FROM (n_id, n_user_id, n_channel_id, n_status, n_action) THEN
        RETURN NULL;
      END IF;
      -- Only a counted value moved (the poller's status writes): six rows, in key order.
      INSERT INTO task_filter_counts AS b (owner, owner_id, status, action, slot, count)
      SELECT * FROM (VALUES ('all', 0, o_status, o_action, (o_id % 8)::smallint, -1),
        ('channel', o_channel_id, o_status, o_action, (o_id % 8)::smallint, -1),
        ('user', o_user_id, o_status, o_action, (o_id % 8)::smallint, -1),
        ('all', 0, n_status, n_action, (n_id % 8)::smallint, 1),
        ('channel', n_channel_id, n_status, n_action, (n_id % 8)::smallint, 1),
        ('user', n_user_id, n_status, n_action, (n_id % 8)::smallint, 1)) v
      ORDER BY 1, 2, 3, 4, 5
      ON CONFLICT (owner, owner_id, status, action, slot) DO UPDATE SET count = b.count + EXCLUDED.count;
      RETURN NULL;
    END IF;
  END IF;
  PERFORM tasks_listing_apply(array_agg(id), array_agg(user_id), array_agg(channel_id), array_agg(submit_time), array_agg(d))
  FROM ((SELECT id, user_id, channel_id, submit_time, -1 AS d FROM old_rows EXCEPT ALL SELECT id, user_id, channel_id, submit_time, -1 FROM new_rows)
    UNION ALL (SELECT id, user_id, channel_id, submit_time, 1 AS d FROM new_rows EXCEPT ALL SELECT id, user_id, channel_id, submit_time, 1 FROM old_rows)) moved
  HAVING count(*) > 0;
  PERFORM tasks_filter_counts_apply(array_agg(id), array_agg(user_id), array_agg(channel_id), array_agg(status), array_agg(action), array_agg(d))
  FROM ((SELECT id, user_id, channel_id, status, action, -1 AS d FROM old_rows EXCEPT ALL SELECT id, user_id, channel_id, status, action, -1 FROM new_rows)
    UNION ALL (SELECT id, user_id, channel_id, status, action, 1 AS d FROM new_rows EXCEPT ALL SELECT id, user_id, channel_id, status, action, 1 FROM old_rows)) moved
  HAVING count(*) > 0;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION tasks_listing_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM task_time_buckets;
  DELETE FROM task_id_blocks;
  DELETE FROM task_counters;
  DELETE FROM task_filter_counts;
  RETURN NULL;
END $$;
