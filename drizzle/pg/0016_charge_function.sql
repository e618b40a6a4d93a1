-- A submit's charge and its task in one PL/pgSQL call (src/db/pg/task-money.ts), instead of one
-- statement of eight data-modifying CTEs: a charge that waited on a user, token or channel row
-- rechecks that row (EvalPlanQual), which set up every sub-plan of the whole statement again; here
-- it rechecks one short UPDATE. Locks in the order of every money path: the user, the token, the
-- channel, then (the insert's listing trigger, fired at the end of the INSERT) the listing rows.
-- `p_task` is the whole row but its id, every column present (the caller fills the defaults).
-- Returns the inserted row; no row when the user cannot pay (nothing written); a token that cannot
-- pay after the user could raises MJ001 (mj_refuse's code), so the user's charge rolls back with it.
CREATE FUNCTION mj_charge_task(p_user integer, p_token integer, p_unlimited boolean, p_channel integer,
  p_quota bigint, p_model text, p_log_type integer, p_now bigint, p_hook text, p_task jsonb)
RETURNS SETOF tasks LANGUAGE plpgsql AS $$
DECLARE
  v tasks;
BEGIN
  UPDATE users SET quota = quota - p_quota, used_quota = used_quota + p_quota, request_count = request_count + 1
  WHERE id = p_user AND quota >= p_quota;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  UPDATE tokens SET used_quota = used_quota + p_quota,
    remain_quota = CASE WHEN p_unlimited THEN remain_quota ELSE remain_quota - p_quota END
  WHERE id = p_token AND (p_unlimited OR remain_quota >= p_quota);
  IF NOT FOUND THEN
    RAISE EXCEPTION 'quota_not_enough' USING ERRCODE = 'MJ001';
  END IF;
  UPDATE channels SET used_quota = used_quota + p_quota WHERE id = p_channel;
  INSERT INTO tasks SELECT r.* FROM jsonb_populate_record(NULL::tasks, p_task || jsonb_build_object('id', nextval('tasks_id_seq'))) r
  RETURNING * INTO v;
  IF p_hook IS NOT NULL THEN
    INSERT INTO task_webhooks (task_id, user_id, token_id, url) VALUES (v.id, p_user, p_token, p_hook)
    ON CONFLICT (task_id) DO UPDATE SET url = excluded.url;
  END IF;
  IF p_quota > 0 THEN
    INSERT INTO logs (user_id, type, content, quota, model_name, channel_id, token_id, mj_id, task_id, created_time)
    VALUES (p_user, p_log_type, p_model || ' charged ' || p_quota || ' for task ' || v.id, p_quota, p_model, p_channel,
      p_token, v.mj_id, v.id, p_now);
  END IF;
  RETURN NEXT v;
END $$;
