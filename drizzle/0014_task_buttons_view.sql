-- For operators' plain SQL: each task's `buttons` as the API gives it. On SQLite the app may store
-- a compact reference to a `button_sets` template in tasks.buttons (src/db/sqlite/button-sets.ts,
-- BUTTONS_SQL, which this expression must equal: tests/unit/button-sets.test.ts checks it);
-- `SELECT buttons FROM task_buttons WHERE id = ?` (or mj_id) reads the original JSON text.
CREATE VIEW `task_buttons` AS SELECT id, mj_id, (CASE WHEN octet_length(buttons) > 128 OR substr(buttons, 1, 7) <> '{"set":' OR NOT json_valid(buttons) THEN buttons
  ELSE coalesce((SELECT replace(s.body, '{{job}}', json_extract(buttons, '$.job')) FROM button_sets s WHERE s.id = json_extract(buttons, '$.set')), buttons) END) AS buttons FROM tasks;
