import { getTableColumns, type SQL, sql } from 'drizzle-orm';
import type { SQLiteColumn } from 'drizzle-orm/sqlite-core';
import {
  MAX_ID_CHARS,
  MAX_JSON_CHARS,
  MAX_TEXT_CHARS,
  MAX_URL_CHARS,
  MAX_WORD_CHARS,
  TASK_TEXT_BOUNDS,
} from '../../lib/text-bounds.ts';
import { tasks } from '../schema/index.ts';
import { BUTTONS_SQL } from './button-sets.ts';

/**
 * The task columns for reads that show many rows (listing pages, list-by-condition), each text
 * cut by SQLite to one character past its bound: a row written with SQL may hold megabytes,
 * and reading a page of those whole into JavaScript takes seconds and hundreds of MB. One past
 * the bound, so the item mapping (boundTaskItem) still sees that a value was too long (a JSON
 * or URL value is then dropped, not cut). SQLite counts code points, JavaScript UTF-16 units:
 * a code point is one or two units, so at least bound + 1 units arrive.
 */
const cut = (column: SQLiteColumn, max: number): SQL.Aliased<string> =>
  sql<string>`substr(${column}, 1, ${sql.raw(String(max + 1))})`.as(column.name);

/**
 * Every column of `tasks` as read: `buttons` expanded from its compact form (button-sets.ts).
 * Use these, never `select().from(tasks)`, wherever a row's `buttons` is read.
 */
export const taskColumns = {
  ...getTableColumns(tasks),
  buttons: sql<string>`${sql.raw(BUTTONS_SQL)}`.as('buttons'),
};

export const boundedTaskColumns = {
  ...taskColumns,
  action: cut(tasks.action, MAX_WORD_CHARS),
  mjId: cut(tasks.mjId, MAX_ID_CHARS),
  prompt: cut(tasks.prompt, MAX_TEXT_CHARS),
  promptEn: cut(tasks.promptEn, MAX_TEXT_CHARS),
  description: cut(tasks.description, MAX_TEXT_CHARS),
  state: cut(tasks.state, MAX_TEXT_CHARS),
  imageUrl: cut(tasks.imageUrl, MAX_URL_CHARS),
  videoUrl: cut(tasks.videoUrl, MAX_URL_CHARS),
  videoUrls: cut(tasks.videoUrls, MAX_JSON_CHARS),
  status: cut(tasks.status, MAX_WORD_CHARS),
  progress: cut(tasks.progress, MAX_WORD_CHARS),
  failReason: cut(tasks.failReason, MAX_TEXT_CHARS),
  buttons: sql<string>`substr(${sql.raw(BUTTONS_SQL)}, 1, ${sql.raw(String(MAX_JSON_CHARS + 1))})`.as('buttons'),
  properties: cut(tasks.properties, MAX_JSON_CHARS),
};

/**
 * Every column of `tasks` in table order as a raw select list, each named by its TaskRow key
 * (`user_id AS "userId"`), so a statement's rows are TaskRows as read: for the listing page.
 * `cut`: each text cut as above; without it, as stored.
 */
function taskRowColumnsSql(cut: boolean): string {
  return Object.entries(getTableColumns(tasks))
    .map(([key, column]) => {
      const max = TASK_TEXT_BOUNDS[column.name];
      const read = column.name === 'buttons' ? BUTTONS_SQL : column.name;
      const value = cut && max !== undefined ? `substr(${read}, 1, ${max + 1})` : read;
      return `${value} AS "${key}"`;
    })
    .join(', ');
}

export const BOUNDED_TASK_COLUMNS_SQL = taskRowColumnsSql(true);
export const PLAIN_TASK_COLUMNS_SQL = taskRowColumnsSql(false);

/** Every column of `tasks` in table order under its SQL name (`buttons` expanded): a `SELECT *` as read. */
export const TASK_COLUMNS_SQL = Object.values(getTableColumns(tasks))
  .map((column) => (column.name === 'buttons' ? `${BUTTONS_SQL} AS buttons` : column.name))
  .join(', ');
