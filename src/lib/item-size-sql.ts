import { MAX_JSON_CHARS, MAX_TEXT_CHARS, MAX_URL_CHARS } from './text-bounds.ts';

/**
 * The fewest bytes a task row's listing item takes as JSON, as one SQL expression over the row's
 * columns (portable: SQLite and PostgreSQL both count characters with `length`): each text cut to
 * its bound, JSON and URLs past theirs dropped, the sum capped at `itemCap` (the item budget).
 * Each character is at least one byte, so an answer whose sum passes its budget is refused from
 * the lengths alone, without reading a row into JavaScript (domain/answer-limits.ts has the same
 * rule over rows already read).
 */
export function itemBytesAtLeastSql(itemCap: number): string {
  const cut = (c: string, max: number) => `(CASE WHEN length(${c}) <= ${max} THEN length(${c}) ELSE ${max} END)`;
  const drop = (c: string, max: number) => `(CASE WHEN length(${c}) <= ${max} THEN length(${c}) ELSE 0 END)`;
  const sum = [
    ...['prompt', 'prompt_en', 'description', 'state', 'fail_reason'].map((c) => cut(c, MAX_TEXT_CHARS)),
    ...['image_url', 'video_url'].map((c) => drop(c, MAX_URL_CHARS)),
    ...['video_urls', 'buttons', 'properties'].map((c) => drop(c, MAX_JSON_CHARS)),
  ].join(' + ');
  return `(CASE WHEN ${sum} > ${itemCap} THEN ${itemCap} ELSE ${sum} END)`;
}
