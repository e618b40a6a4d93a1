import { sql } from 'drizzle-orm';
import { check, index, integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';
import { TASK_TEXT_BOUNDS } from '../../lib/text-bounds.ts';

/**
 * A row holding a text longer than a listing shows (TASK_TEXT_BOUNDS: 64 for words, 128 for ids,
 * 2048 for URLs, 8192 for free text, 65536 for JSON), in bytes: only rows written with plain SQL
 * can. Indexed (tasks_oversize_idx) so a listing learns in one probe that no such row exists and
 * reads pages without cutting every text in SQL.
 */
export const TASK_OVERSIZE_SQL = Object.entries(TASK_TEXT_BOUNDS)
  .map(([column, max]) => `length(CAST(${column} AS BLOB)) > ${max}`)
  .join(' OR ');

/**
 * `buttons` (JSON text, SPEC §4) is most of a row when stored whole: the upstream's grid set is
 * ~1 KB of JSON, the same shape for every grid with the job hash repeated in each customId. On
 * SQLite the app stores `{"set":n,"job":"<hash>"}` instead where that reproduces the text byte for
 * byte, `n` a row of the immutable template table `button_sets` (src/db/sqlite/button-sets.ts);
 * every read expands it in SQL, so every output carries the original text. Rows written with plain
 * SQL hold the full JSON and read unchanged; an operator's plain `SELECT buttons` sees the compact
 * form of rows the app wrote. Bench's 1M rows: a task from 2,177 to 632 B (the table from 1,992 to
 * 447 B a row). The oversize index keeps its meaning: only a text of at most 64 KiB is ever made
 * compact, and a compact text is never oversize. PostgreSQL stores the text whole.
 */
/**
 * One row per submission. `channel_id` deliberately has no foreign key: channels may be deleted
 * while tasks still reference them (the poller fails and refunds those tasks).
 */
export const tasks = sqliteTable(
  'tasks',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    userId: integer('user_id').notNull(),
    tokenId: integer('token_id').notNull().default(0),
    channelId: integer('channel_id').notNull().default(0),
    code: integer('code').notNull().default(0),
    action: text('action').notNull().default(''),
    mjId: text('mj_id').notNull().default(''),
    prompt: text('prompt').notNull().default(''),
    promptEn: text('prompt_en').notNull().default(''),
    description: text('description').notNull().default(''),
    state: text('state').notNull().default(''),
    submitTime: integer('submit_time').notNull().default(0),
    startTime: integer('start_time').notNull().default(0),
    finishTime: integer('finish_time').notNull().default(0),
    imageUrl: text('image_url').notNull().default(''),
    videoUrl: text('video_url').notNull().default(''),
    videoUrls: text('video_urls').notNull().default(''),
    status: text('status').notNull().default(''),
    progress: text('progress').notNull().default('0%'),
    failReason: text('fail_reason').notNull().default(''),
    quota: integer('quota').notNull().default(0),
    buttons: text('buttons').notNull().default(''),
    properties: text('properties').notNull().default(''),
    updatedTime: integer('updated_time').notNull().default(0),
  },
  (t) => [
    // Every index here is named by the plan of a statement the app runs (tests/unit/query-plan.test.ts
    // fails on one that none uses). (user_id, mj_id) was dropped in 0011: mj_id is (near) unique, so
    // (mj_id) answers a user's lookup with a one-row filter, and the pair cost 27 B a row and two
    // WAL pages per submit.
    index('tasks_user_id_id_idx').on(t.userId, t.id),
    index('tasks_user_id_submit_time_idx').on(t.userId, t.submitTime),
    index('tasks_channel_id_id_idx').on(t.channelId, t.id),
    index('tasks_channel_id_submit_time_idx').on(t.channelId, t.submitTime),
    index('tasks_mj_id_idx').on(t.mjId),
    // The status and action filters (SPEC §6.1): each index ends in the rowid, so a page walks
    // matching ids newest first; totals come from task_filter_counts. The status ones hold finished
    // tasks only (SUCCESS, FAILURE: a status that no longer moves), so the poller's writes between
    // open statuses (the most frequent write there is) leave them alone; a page of an open status
    // walks the owner's ids newest first, where open tasks are (they are the recent ones).
    index('tasks_status_idx').on(t.status).where(sql`status IN ('SUCCESS', 'FAILURE')`),
    index('tasks_user_id_status_idx').on(t.userId, t.status).where(sql`status IN ('SUCCESS', 'FAILURE')`),
    // The action ones leave out IMAGINE, the action most tasks have: a page of IMAGINE tasks walks
    // the owner's ids (most rows match), and an IMAGINE submit (the most common) writes neither
    // index (2.3 WAL pages per submit in the bench, which would pass 60 KiB).
    index('tasks_action_idx').on(t.action).where(sql`action <> 'IMAGINE'`),
    index('tasks_user_id_action_idx').on(t.userId, t.action).where(sql`action <> 'IMAGINE'`),
    index('tasks_submit_time_idx').on(t.submitTime),
    // Only unfinished tasks are in this index, so the poller finds them without a scan.
    index('tasks_unfinished_idx').on(t.channelId, t.id).where(sql`progress <> '100%'`),
    // Normally empty: see TASK_OVERSIZE_SQL.
    index('tasks_oversize_idx').on(t.id).where(sql.raw(TASK_OVERSIZE_SQL)),
    check('tasks_quota_non_negative', sql`${t.quota} >= 0`),
  ],
);
