/**
 * The size bounds of stored and shown text (SPEC §10) as plain numbers: the domain's rules
 * (domain/bounds.ts) and the storage adapters' SQL cuts (db/sqlite) read the same values.
 */

/** `prompt` and the other free-text columns (prompt_en, description, fail_reason, state). */
export const MAX_TEXT_CHARS = 8192;
/** `buttons`, `properties`, `video_urls` JSON text. */
export const MAX_JSON_CHARS = 64 * 1024;
/** image_url, video_url, each URL of video_urls, and client URLs (notifyHook, link, ...). */
export const MAX_URL_CHARS = 2048;
/** Upstream task ids (mj_id), parent task ids. */
export const MAX_ID_CHARS = 128;
/** status and progress are short words ("IN_PROGRESS", "45%"). */
export const MAX_WORD_CHARS = 64;

/**
 * The bound of each text column of `tasks` (SQL name → characters), in table order: what a listing
 * shows of it, so what both storage adapters cut it to in SQL, and what the oversize index of the
 * SQLite schema (TASK_OVERSIZE_SQL) looks for.
 */
export const TASK_TEXT_BOUNDS: Readonly<Record<string, number>> = {
  action: MAX_WORD_CHARS,
  mj_id: MAX_ID_CHARS,
  prompt: MAX_TEXT_CHARS,
  prompt_en: MAX_TEXT_CHARS,
  description: MAX_TEXT_CHARS,
  state: MAX_TEXT_CHARS,
  image_url: MAX_URL_CHARS,
  video_url: MAX_URL_CHARS,
  video_urls: MAX_JSON_CHARS,
  status: MAX_WORD_CHARS,
  progress: MAX_WORD_CHARS,
  fail_reason: MAX_TEXT_CHARS,
  buttons: MAX_JSON_CHARS,
  properties: MAX_JSON_CHARS,
};
