-- Issue 15: every settle, poller update and refund is a one-row UPDATE that moves nothing the
-- listing tables count (id, user_id, channel_id, submit_time). The update trigger now sees that
-- with two plain reads of its one-row transition tables and returns, instead of running an
-- EXCEPT ALL of both (two set operations, an append and an aggregate); any other statement takes
-- the set-based path of 0008 unchanged (sorted through tasks_listing_apply, so concurrent writers
-- still cannot deadlock on these rows).
CREATE OR REPLACE FUNCTION tasks_listing_update() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  n bigint;
  oi integer;
  ou integer;
  oc integer;
  ot bigint;
  ni integer;
  nu integer;
  nc integer;
  nt bigint;
BEGIN
  SELECT count(*), min(r.id), min(r.user_id), min(r.channel_id), min(r.submit_time) INTO n, oi, ou, oc, ot FROM old_rows r;
  IF n = 0 THEN
    RETURN NULL;
  END IF;
  IF n = 1 THEN
    SELECT r.id, r.user_id, r.channel_id, r.submit_time INTO ni, nu, nc, nt FROM new_rows r;
    IF (oi, ou, oc, ot) IS NOT DISTINCT FROM (ni, nu, nc, nt) THEN
      RETURN NULL;
    END IF;
  END IF;
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
