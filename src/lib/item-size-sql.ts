import { MAX_JSON_CHARS, MAX_TEXT_CHARS, MAX_URL_CHARS } from './text-bounds.ts';

/**
 * The fewest bytes a task row's listing item takes as JSON, in SQL over the row's text columns
 * (SQLite and PostgreSQL alike): each text cut to its bound, JSON and URLs past theirs dropped,
 * the sum capped at the item budget. `octet_length` is read from the record header (SQLite) or the
 * TOAST header (PostgreSQL) without reading the value, and a text's UTF-8 bytes are never more
 * than its JSON bytes, so an answer whose sum passes its budget is refused without reading a row
 * (domain/answer-limits.ts has the same rule over rows already read).
 */
const CUT = ['prompt', 'prompt_en', 'description', 'state', 'fail_reason'];
const DROP: ReadonlyArray<readonly [string, number]> = [
  ['image_url', MAX_URL_CHARS],
  ['video_url', MAX_URL_CHARS],
  ['video_urls', MAX_JSON_CHARS],
  ['buttons', MAX_JSON_CHARS],
  ['properties', MAX_JSON_CHARS],
];

/**
 * The select list of the inner query: each text column's octet length, nothing else (no value
 * read). `lengthOf` may give a column's length another way (SQLite's compact `buttons`).
 */
export function textLengthsSql(lengthOf: (column: string) => string | null = () => null): string {
  return [...CUT, ...DROP.map(([c]) => c)].map((c) => `${lengthOf(c) ?? `octet_length(${c})`} AS l_${c}`).join(', ');
}
export const TEXT_LENGTHS_SQL = textLengthsSql();

/** Over the columns of TEXT_LENGTHS_SQL: the fewest bytes of the row's item, capped at `itemCap`. */
export function itemBytesAtLeastSql(itemCap: number): string {
  const sum = [
    ...CUT.map((c) => `(CASE WHEN l_${c} <= ${MAX_TEXT_CHARS} THEN l_${c} ELSE ${MAX_TEXT_CHARS} END)`),
    ...DROP.map(([c, max]) => `(CASE WHEN l_${c} <= ${max} THEN l_${c} ELSE 0 END)`),
  ].join(' + ');
  return `(CASE WHEN ${sum} > ${itemCap} THEN ${itemCap} ELSE ${sum} END)`;
}
