import type { Sql, TransactionSql } from 'postgres';
import type { PgDB } from './client.ts';
import type { PgRunner } from './money.ts';

/**
 * Change notifications between replicas (SPEC §13 options, §14 live updates) over PostgreSQL
 * LISTEN/NOTIFY. NOTIFY is transactional: sent inside a transaction it is delivered when that
 * transaction commits and never when it rolls back, which is the "after commit" rule the task feed
 * needs, with no window where a listener hears of a row it cannot read yet.
 *
 * Listening uses postgres.js `sql.listen`: one dedicated connection per PgDB, re-established by the
 * library when it drops, with every channel listened to again. Notifications sent while a replica
 * was disconnected are lost (PostgreSQL keeps none for absent listeners), so every listener here
 * takes `onReconnect`, called each time the LISTEN is in place again after the first: the caller
 * reloads what may have changed during the gap (options: reload the rows; the task feed: replay
 * recent changes from the database, as it does for an unknown event id).
 *
 * How a PostgreSQL TaskFeed uses this (the wiring step): its `publish(ids)` is the writers' hook,
 * but on PostgreSQL the writers call `notifyTaskChanges(tx, ids)` inside their own transaction
 * instead, so one commit carries both the rows and the news of them. The submit path's writes
 * (charge, settle, refund, failover: task-money.ts) instead return their note and queue it once
 * they have committed (sendTaskNoteAfterCommit), batched per pool: every NOTIFY passes through one
 * cluster-wide lock at commit, which queued the concurrent submits (and the row locks they held)
 * behind one another. Each replica's feed runs
 * `onTaskChanges(db, (ids) => localFeed.publish(ids))` once at start: the listener hands the ids to
 * the replica's in-memory feed (fingerprints drop what did not move, event ids, buffer, per-user
 * filtering as in InProcessTaskFeed), whose subscribers then read the rows. This includes the
 * replica's own writes, which come back through LISTEN too, so there is one path for all of them.
 */

export const OPTIONS_CHANNEL = 'mjgw_options';
export const TASKS_CHANNEL = 'mjgw_tasks';

/**
 * A task's change fingerprint: what a subscriber would see move (the SQLite feed's text, byte for
 * byte), over the columns of one `tasks` row.
 */
export const TASK_FINGERPRINT_SQL = `updated_time || '|' || status || '|' || progress || '|' || mj_id
  || '|' || quota || '|' || length(image_url) || '|' || length(fail_reason) || '|' || length(buttons)`;

/**
 * The note a single-task writer returns (in its RETURNING, over the row it wrote):
 * `<id>:<user_id>:<fingerprint>`, sent alone or in a JSON array of notes. The listener hands the fingerprint to the feed's reads
 * (takeNotedFingerprints), so a submit's own echo costs no read; id lists (notifyTaskChanges)
 * are still read.
 */
export const TASK_NOTE_SQL = `id || ':' || user_id || ':' || ${TASK_FINGERPRINT_SQL}`;

/** A task as its writer announced it. */
export interface NotedFingerprint {
  id: number;
  user_id: number;
  fp: string;
}

/**
 * The fingerprint heard, per pool, while its listener callback runs (and only then): the feed's
 * publish reads fingerprints synchronously inside that callback, so a note never outlives it and
 * can never stand in for a later state of the task.
 */
const handoff = new WeakMap<PgDB, NotedFingerprint>();

/** The fingerprints handed over for these ids (by the notification being delivered), and the ids that still need a read. */
export function takeNotedFingerprints(
  db: PgDB,
  ids: readonly number[],
): { known: NotedFingerprint[]; missing: number[] } {
  const f = handoff.get(db);
  if (!f || !ids.includes(f.id)) return { known: [], missing: [...ids] };
  handoff.delete(db);
  return { known: [f], missing: ids.filter((id) => id !== f.id) };
}

/** A writer's `<id>:<user_id>:<fingerprint>` payload, or null for anything else. */
export function decodeTaskNote(payload: string): NotedFingerprint | null {
  const m = /^(\d{1,15}):(\d{1,15}):(.*)$/s.exec(payload);
  if (!m) return null;
  const id = Number(m[1]);
  return id > 0 ? { id, user_id: Number(m[2]), fp: m[3]! } : null;
}

/** PostgreSQL refuses payloads of 8000 bytes or more; ids are ASCII, so bytes are characters. */
export const MAX_PAYLOAD_BYTES = 7900;

type Runner = PgRunner | Sql | TransactionSql;
const sqlOf = (r: Runner): Sql | TransactionSql => ('$client' in r ? r.$client : r);

/** Comma-separated ids, each payload under MAX_PAYLOAD_BYTES. */
export function encodeTaskIds(taskIds: readonly number[], maxBytes = MAX_PAYLOAD_BYTES): string[] {
  const payloads: string[] = [];
  let current = '';
  for (const id of new Set(taskIds)) {
    if (!Number.isSafeInteger(id) || id <= 0) continue;
    const piece = String(id);
    if (current.length > 0 && current.length + 1 + piece.length > maxBytes) {
      payloads.push(current);
      current = '';
    }
    current = current.length > 0 ? `${current},${piece}` : piece;
  }
  if (current.length > 0) payloads.push(current);
  return payloads;
}

/** The ids of one payload; anything that is not a positive integer is dropped (any client may NOTIFY). */
export function decodeTaskIds(payload: string): number[] {
  const ids: number[] = [];
  for (const part of payload.split(',')) {
    if (!/^\d{1,15}$/.test(part)) continue;
    const id = Number(part);
    if (id > 0) ids.push(id);
  }
  return ids;
}

/**
 * Announce changed tasks. Pass the writer's open transaction: the notification goes out when it
 * commits, not at all when it rolls back. One statement sends every payload (a batch of thousands
 * of ids is a few payloads, one round trip).
 */
export async function notifyTaskChanges(runner: Runner, taskIds: readonly number[]): Promise<void> {
  const payloads = encodeTaskIds(taskIds);
  if (payloads.length === 0) return;
  const sql = sqlOf(runner);
  await sql`SELECT pg_notify(${TASKS_CHANNEL}, p) FROM unnest(${payloads}::text[]) AS p`;
}

/** Announce that the options rows changed (inside the writing transaction, or after it). */
export async function notifyOptionsChanged(runner: Runner): Promise<void> {
  await sqlOf(runner)`SELECT pg_notify(${OPTIONS_CHANNEL}, '')`;
}

/** A batch of writers' notes: a JSON array of `<id>:<user_id>:<fingerprint>` strings. */
const NOTES_OPEN = '[';

/** Notes packed into JSON-array payloads, each under `maxBytes` (UTF-8); a note too big alone goes as its bare id. */
export function encodeTaskNotes(notes: readonly string[], maxBytes = MAX_PAYLOAD_BYTES): string[] {
  const payloads: string[] = [];
  let batch: string[] = [];
  let bytes = 2;
  const close = () => {
    if (batch.length > 0) payloads.push(JSON.stringify(batch));
    batch = [];
    bytes = 2;
  };
  for (const note of notes) {
    const size = Buffer.byteLength(JSON.stringify(note)) + 1;
    if (size + 2 > maxBytes) {
      const one = decodeTaskNote(note);
      if (one) payloads.push(String(one.id));
      continue;
    }
    if (bytes + size > maxBytes) close();
    batch.push(note);
    bytes += size;
  }
  close();
  return payloads;
}

/** The notes of a JSON-array payload (anything malformed dropped), or null when it is not one. */
export function decodeTaskNotes(payload: string): NotedFingerprint[] | null {
  if (!payload.startsWith(NOTES_OPEN)) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload);
  } catch {
    return [];
  }
  if (!Array.isArray(parsed)) return [];
  const out: NotedFingerprint[] = [];
  for (const item of parsed) {
    const one = typeof item === 'string' ? decodeTaskNote(item) : null;
    if (one) out.push(one);
  }
  return out;
}

/**
 * The submit path's notes, sent once their write has committed: every note queued while a send is
 * under way goes in the next one, so under load one NOTIFY (one pass through PostgreSQL's
 * cluster-wide commit lock for notifications, one wake-up of each listener) carries many writes;
 * alone, a note goes at once. One sender per pool, in queue order, so one replica's notes of a
 * task arrive in the order of its writes. A note lost to a failed send (the database away, or
 * the process ending before it went) is a change the other feeds hear of at the task's next write
 * or on a reconnect's replay; the write itself is never undone by it.
 */
class NoteSender {
  private queue: string[] = [];
  private running: Promise<void> | null = null;

  constructor(private readonly sql: Sql) {}

  add(note: string): void {
    this.queue.push(note);
    this.running ??= this.drain();
  }

  /** Resolves once every note queued so far was sent (or failed). */
  async flushed(): Promise<void> {
    while (this.running) await this.running;
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const payloads = encodeTaskNotes(this.queue.splice(0));
        try {
          await this.sql`SELECT pg_notify(${TASKS_CHANNEL}, p) FROM unnest(${payloads}::text[]) AS p`;
        } catch {
          // Dropped (see above): the next batch is tried all the same.
        }
      }
    } finally {
      this.running = null;
    }
  }
}

const senders = new WeakMap<Sql, NoteSender>();

function senderOf(db: PgDB): NoteSender {
  let s = senders.get(db.$client);
  if (!s) {
    s = new NoteSender(db.$client);
    senders.set(db.$client, s);
  }
  return s;
}

/**
 * Announce a task its writer changed, once that write has committed (never call it from inside an
 * open transaction): `note` is the writer's RETURNING of TASK_NOTE_SQL; null (nothing written) is skipped.
 */
export function sendTaskNoteAfterCommit(db: PgDB, note: string | null | undefined): void {
  if (note) senderOf(db).add(note);
}

/** Resolves once the notes queued on `db` so far were sent (tests, shutdown). */
export function taskNotesSent(db: PgDB): Promise<void> {
  return senders.get(db.$client)?.flushed() ?? Promise.resolve();
}

export interface ListenOptions {
  /** Called when the LISTEN is in place again after a lost connection: reload what the gap hid. */
  onReconnect?: () => void;
  /** A callback that threw (the listener keeps running). */
  onError?: (err: unknown) => void;
}

/** Stops listening; other listeners on the same PgDB and channel keep theirs. */
export type Unlisten = () => Promise<void>;

async function listenChannel(
  db: PgDB,
  channel: string,
  onPayload: (payload: string) => void,
  opts: ListenOptions,
): Promise<Unlisten> {
  let first = true;
  let stopped = false;
  const guard = (fn: () => void) => {
    if (stopped) return;
    try {
      fn();
    } catch (err) {
      opts.onError?.(err);
    }
  };
  const req = await db.$client.listen(
    channel,
    (payload) => guard(() => onPayload(payload)),
    () => {
      // postgres.js calls this after every successful LISTEN: the first time, and after each reconnect.
      if (first) {
        first = false;
        return;
      }
      if (opts.onReconnect) guard(opts.onReconnect);
    },
  );
  return async () => {
    // After a reconnect postgres.js holds a new copy of the listener that its `unlisten` no longer
    // finds (the channel stays LISTENed on that connection): `stopped` is what silences it.
    stopped = true;
    await req.unlisten();
  };
}

/**
 * Option changes made through any replica. The in-memory OptionsStore reloads on each call:
 * `onOptionsChanged(db, () => store.refresh())`. A reconnect also calls `callback` (a change may
 * have been announced while this replica was not listening), unless `onReconnect` is given.
 */
export function onOptionsChanged(db: PgDB, callback: () => void, opts: ListenOptions = {}): Promise<Unlisten> {
  return listenChannel(db, OPTIONS_CHANNEL, () => callback(), { onReconnect: callback, ...opts });
}

/**
 * Ids of tasks changed by any replica (this one included), delivered after their commit. A
 * writer's fingerprint travels with its id: it is kept for this pool's feed reads
 * (createPgFeedReads), which then answer that id without a query.
 */
export function onTaskChanges(
  db: PgDB,
  callback: (taskIds: number[]) => void,
  opts: ListenOptions = {},
): Promise<Unlisten> {
  return listenChannel(
    db,
    TASKS_CHANNEL,
    (payload) => {
      const notes = decodeTaskNotes(payload);
      const one = notes ? null : decodeTaskNote(payload);
      for (const note of notes ?? (one ? [one] : [])) {
        handoff.set(db, note);
        try {
          callback([note.id]);
        } finally {
          handoff.delete(db);
        }
      }
      if (notes || one) return;
      const ids = decodeTaskIds(payload);
      if (ids.length > 0) callback(ids);
    },
    opts,
  );
}
