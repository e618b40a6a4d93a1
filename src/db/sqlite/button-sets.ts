import type { Database } from 'bun:sqlite';
import { textLengthsSql } from '../../lib/item-size-sql.ts';

/**
 * The compact form of `tasks.buttons` on SQLite (issue 15 point 4). The upstream's button sets
 * are ~1 KB of JSON of a few shapes, with the task's job hash repeated in each customId; a row
 * may hold `{"set":<id>,"job":"<hash>"}` instead, `<id>` a row of `button_sets` whose body is the
 * text with every occurrence of the hash written `{{job}}`. It is written only where expanding
 * it gives the original text byte for byte (checked here, before the write); any other text is
 * stored whole, and so is every row written with plain SQL (SPEC §4), which reads unchanged.
 * Every read expands it in SQL (BUTTONS_SQL), so the statements' rows, and everything built from
 * them (listings, tRPC, relay queries, webhook payloads, the live feed), carry the original text.
 * PostgreSQL stores the text whole (src/db/pg).
 */

export const JOB_PLACEHOLDER = '{{job}}';
/** The compact text's start; a text starting so is always stored through a template (never whole). */
const REFERENCE_PREFIX = '{"set":';
/** A compact text is never longer (checked on reads first, from the record header only). */
export const MAX_REFERENCE_BYTES = 128;
/** A job hash as it may sit in a compact text: no JSON escaping, short. */
const JOB = /^[0-9A-Za-z-]{1,64}$/;
/** customId segments that look like a job hash (hex with dashes, 16 or more). */
const HASH_SEGMENT = /^[0-9a-fA-F][0-9a-fA-F-]{15,63}$/;
const CUSTOM_ID = /"customId":"((?:[^"\\]|\\.)*)"/g;
/** Texts shorter than this are not worth a template. */
const MIN_COMPACT_BYTES = 100;
/** Bounds of a template: what a listing shows whole (bounds.ts: 64 KiB of JSON) and the number of templates. */
const MAX_TEMPLATE_BYTES = 65_536;
export const MAX_BUTTON_SETS = 4_096;

/**
 * Reads `buttons` (of `tasks`, unqualified) as the original text: a short text starting
 * `{"set":` that is valid JSON and names a template is expanded, anything else is read as stored.
 * The length test comes first and reads only the record header, so a long text is never scanned.
 */
export const BUTTONS_SQL = `(CASE WHEN octet_length(buttons) > ${MAX_REFERENCE_BYTES} OR substr(buttons, 1, ${REFERENCE_PREFIX.length}) <> '${REFERENCE_PREFIX}' OR NOT json_valid(buttons) THEN buttons
  ELSE coalesce((SELECT replace(s.body, '${JOB_PLACEHOLDER}', json_extract(buttons, '$.job')) FROM button_sets s WHERE s.id = json_extract(buttons, '$.set')), buttons) END)`;

function looksCompact(text: string): boolean {
  return text.startsWith(REFERENCE_PREFIX) && Buffer.byteLength(text) <= MAX_REFERENCE_BYTES;
}

/**
 * The octet lengths of a row's texts (item-size-sql.ts) with `buttons` as expanded: a long text's
 * length still comes from the record header alone, only a text short enough to be compact is read.
 */
export const TASK_TEXT_LENGTHS_SQL = textLengthsSql((c) =>
  c === 'buttons'
    ? `(CASE WHEN octet_length(buttons) > ${MAX_REFERENCE_BYTES} THEN octet_length(buttons) ELSE octet_length(${BUTTONS_SQL}) END)`
    : null,
);

/** The template and job hash of a text, or null where none reproduces it. Pure. */
export function splitButtons(text: string): { body: string; job: string } | null {
  const bytes = Buffer.byteLength(text);
  // A text that BUTTONS_SQL would take for a compact one cannot be stored whole.
  const mustSplit = looksCompact(text);
  if (!mustSplit && (bytes < MIN_COMPACT_BYTES || bytes > MAX_TEMPLATE_BYTES)) return null;
  if (text.includes(JOB_PLACEHOLDER)) {
    // Only a text that must not be stored whole: the whole text as its template, and the
    // placeholder as its own job (replacing it by itself changes nothing).
    return mustSplit ? { body: text, job: JOB_PLACEHOLDER } : null;
  }
  // The job: the hash-like customId segment seen most often.
  const seen = new Map<string, number>();
  for (const m of text.matchAll(CUSTOM_ID)) {
    for (const seg of (m[1] ?? '').split('::')) if (HASH_SEGMENT.test(seg)) seen.set(seg, (seen.get(seg) ?? 0) + 1);
  }
  let job = '';
  for (const [seg, n] of seen) if (n > (seen.get(job) ?? 0)) job = seg;
  if (job !== '' && !JOB.test(job)) return null;
  const body = job === '' ? text : text.split(job).join(JOB_PLACEHOLDER);
  // Another hash left in the template would make one template per task: not worth storing.
  if (!mustSplit && seen.size > 1) return null;
  if (body.split(JOB_PLACEHOLDER).join(job) !== text) return null;
  return { body, job };
}

/**
 * The fast way to a known template: the job is the first hash-like segment of the first customId.
 * Replacing it reproduces the text exactly when the text does not hold the placeholder itself
 * (`{{job}}` overlaps no shift of itself, so no placeholder can straddle a cut).
 */
function quickSplit(text: string): { body: string; job: string } | null {
  const at = text.indexOf('"customId":"');
  if (at < 0) return null;
  const end = text.indexOf('"', at + 12);
  if (end < 0) return null;
  for (const seg of text.slice(at + 12, end).split('::')) {
    if (HASH_SEGMENT.test(seg) && JOB.test(seg))
      return text.includes(JOB_PLACEHOLDER) ? null : { body: text.split(seg).join(JOB_PLACEHOLDER), job: seg };
  }
  return null;
}

/** The compact text of a template id and job (what BUTTONS_SQL expands). */
export function referenceText(id: number, job: string): string {
  return `{"set":${id},"job":"${job}"}`;
}

/** Template ids by body, per connection: only ids read outside a transaction (so surely committed). */
const cache = new WeakMap<Database, Map<string, number>>();

function statements(sqlite: Database) {
  return {
    find: sqlite.query<{ id: number }, [string]>('SELECT id FROM button_sets WHERE body = ?'),
    count: sqlite.query<{ n: number }, []>('SELECT count(*) AS n FROM button_sets'),
    insert: sqlite.query<{ id: number }, [string]>(
      'INSERT INTO button_sets (body) VALUES (?) ON CONFLICT (body) DO UPDATE SET body = body RETURNING id',
    ),
  };
}
const statementCache = new WeakMap<Database, ReturnType<typeof statements>>();

/**
 * The text to store for `text` in `tasks.buttons`: its compact form where one reproduces it
 * (adding its template when new), else the text itself. Call outside a transaction where
 * possible: only then are new template ids cached (inside one, the insert may yet roll back).
 */
export function compactButtons(sqlite: Database, text: string): string {
  if (text.length < MIN_COMPACT_BYTES / 4 && !text.startsWith(REFERENCE_PREFIX)) return text;
  let ids = cache.get(sqlite);
  if (!ids) cache.set(sqlite, (ids = new Map()));
  // Most writes are of a cached template: found without the full analysis below.
  const quick = ids.size > 0 ? quickSplit(text) : null;
  const known = quick ? ids.get(quick.body) : undefined;
  if (quick && known !== undefined) return referenceText(known, quick.job);
  const split = splitButtons(text);
  if (!split) return text;
  let id = ids.get(split.body);
  if (id === undefined) {
    let st = statementCache.get(sqlite);
    if (!st) statementCache.set(sqlite, (st = statements(sqlite)));
    id = st.find.get(split.body)?.id;
    if (id === undefined) {
      // A text that starts like a compact one cannot be stored whole: it always gets a template.
      if (!looksCompact(text) && (st.count.get()?.n ?? 0) >= MAX_BUTTON_SETS) return text;
      id = st.insert.get(split.body)?.id;
      if (id === undefined) return text;
    }
    if (!sqlite.inTransaction && ids.size < MAX_BUTTON_SETS) ids.set(split.body, id);
  }
  return referenceText(id, split.job);
}

/**
 * Rows written before the compact form (or with plain SQL) keep their whole text; this rewrites
 * those a template reproduces, `batch` rows per transaction in id order (`bun
 * scripts/compact-buttons.ts <db>`). A row changed meanwhile is left as it is (the update names the
 * text it read). The text every read gives is the same before and after, so nothing is published.
 */
export function compactStoredButtons(sqlite: Database, batch = 1_000): { scanned: number; compacted: number } {
  const page = sqlite.query<{ id: number; buttons: string }, [number, number]>(
    `SELECT id, buttons FROM tasks WHERE id > ?1 AND octet_length(buttons) > ${MAX_REFERENCE_BYTES} ORDER BY id LIMIT ?2`,
  );
  const update = sqlite.query<unknown, [string, number, string]>(
    'UPDATE tasks SET buttons = ?1 WHERE id = ?2 AND buttons = ?3',
  );
  const write = sqlite.transaction((plan: Array<{ id: number; from: string; to: string }>) => {
    let n = 0;
    for (const p of plan) n += update.run(p.to, p.id, p.from).changes;
    return n;
  });
  let after = 0;
  let scanned = 0;
  let compacted = 0;
  for (;;) {
    const rows = page.all(after, batch);
    if (rows.length === 0) break;
    // Templates are added (and cached) outside the write transaction.
    const plan = rows
      .map((r) => ({ id: r.id, from: r.buttons, to: compactButtons(sqlite, r.buttons) }))
      .filter((p) => p.to !== p.from);
    compacted += write(plan);
    scanned += rows.length;
    after = rows[rows.length - 1]!.id;
  }
  return { scanned, compacted };
}
