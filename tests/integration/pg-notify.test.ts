import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { openPgDatabase, type PgDB } from '../../src/db/pg/client.ts';
import {
  decodeTaskIds,
  decodeTaskNotes,
  encodeTaskIds,
  encodeTaskNotes,
  MAX_PAYLOAD_BYTES,
  notifyOptionsChanged,
  notifyTaskChanges,
  onOptionsChanged,
  onTaskChanges,
  sendTaskNoteAfterCommit,
  TASKS_CHANNEL,
  taskNotesSent,
  type Unlisten,
} from '../../src/db/pg/notify.ts';
import { createPgFeedReads } from '../../src/db/pg/task-reads.ts';
import { type TempPg, tempPg } from '../helpers/pg.ts';
import { waitFor } from '../helpers/server.ts';

/**
 * Notifications between replicas: three PgDB instances on one database stand for three
 * gateway processes. Everything is observed through real LISTEN connections.
 */

let pg: TempPg;
let a: PgDB;
let b: PgDB;
let c: PgDB;
const unlistens: Unlisten[] = [];

beforeAll(async () => {
  pg = await tempPg({ poolSize: 3 });
  a = pg.db;
  [b, c] = await Promise.all([openPgDatabase(pg.url, { poolSize: 2 }), openPgDatabase(pg.url, { poolSize: 2 })]);
});

afterAll(async () => {
  await Promise.all(unlistens.map((u) => u()));
  await Promise.all([b.$client.end({ timeout: 1 }), c.$client.end({ timeout: 1 })]);
  await pg.cleanup();
});

/** Collects the ids one listener receives, in order. */
async function collect(db: PgDB): Promise<number[]> {
  const got: number[] = [];
  unlistens.push(await onTaskChanges(db, (ids) => got.push(...ids)));
  return got;
}

describe('payloads', () => {
  test('ids are split under the size limit and come back whole', () => {
    const ids = Array.from({ length: 5000 }, (_, i) => 1_000_000_000 + i);
    const payloads = encodeTaskIds(ids);
    expect(payloads.length).toBeGreaterThan(1);
    for (const p of payloads) expect(Buffer.byteLength(p)).toBeLessThanOrEqual(MAX_PAYLOAD_BYTES);
    expect(payloads.flatMap(decodeTaskIds)).toEqual(ids);
    expect(encodeTaskIds([3, 3, 0, -1, 1.5, 4])).toEqual(['3,4']);
    expect(decodeTaskIds('7,x,,-2,9')).toEqual([7, 9]);
  });
});

describe('payloads of notes', () => {
  test('notes are packed in JSON arrays under the size limit and come back whole; a foreign array is dropped item by item', () => {
    const notes = Array.from({ length: 600 }, (_, i) => `${i + 1}:7:1712016000000|SUCCESS|100%|mj-é${i}|0|10|0|11`);
    const payloads = encodeTaskNotes(notes);
    expect(payloads.length).toBeGreaterThan(1);
    for (const p of payloads) expect(Buffer.byteLength(p)).toBeLessThanOrEqual(MAX_PAYLOAD_BYTES);
    const back = payloads.flatMap((p) => decodeTaskNotes(p) ?? []);
    expect(back.map((n) => n.id)).toEqual(notes.map((_, i) => i + 1));
    expect(back[3]).toEqual({ id: 4, user_id: 7, fp: '1712016000000|SUCCESS|100%|mj-é3|0|10|0|11' });
    // A note too big for a payload goes as its bare id (read by the listener).
    expect(encodeTaskNotes([`9:1:${'x'.repeat(MAX_PAYLOAD_BYTES)}`])).toEqual(['9']);
    expect(decodeTaskNotes('3,4')).toBeNull();
    expect(decodeTaskNotes('[not json')).toEqual([]);
    expect(decodeTaskNotes('["5:2:fp", 6, "x", "0:1:fp"]')).toEqual([{ id: 5, user_id: 2, fp: 'fp' }]);
  });
});

describe('task changes', () => {
  test('notes sent after commit (batched while a send is under way) reach every listener in order, each with its fingerprint', async () => {
    const [u] = await a.$client`INSERT INTO users (username, created_time) VALUES ('notes', 0) RETURNING id`;
    const ids: number[] = [];
    const notes: string[] = [];
    for (let i = 0; i < 40; i++) {
      const [row] = await a.$client<Array<{ id: number; note: string }>>`
        INSERT INTO tasks (user_id, action, submit_time, updated_time) VALUES (${u!.id}, 'IMAGINE', ${i}, ${i})
        RETURNING id, id || ':' || user_id || ':' || 'fp' || id AS note`;
      ids.push(row!.id);
      notes.push(row!.note);
    }
    const onB = await collect(b);
    const reads = createPgFeedReads(c);
    const fromC: Array<Promise<Array<{ id: number; fp: string }>>> = [];
    unlistens.push(await onTaskChanges(c, (got) => fromC.push(reads.fingerprints(got))));
    for (const note of notes) sendTaskNoteAfterCommit(a, note);
    await taskNotesSent(a);
    await waitFor(() => onB.length >= 40 && fromC.length >= 40, 'all 40 notes on both listeners');
    expect(onB.slice(-40)).toEqual(ids);
    // The fingerprint came with the note: no read of the rows (whose fingerprints differ).
    expect((await Promise.all(fromC)).flat().slice(-40)).toEqual(
      ids.map((id) => ({ id, user_id: u!.id, fp: `fp${id}` })),
    );
  });

  test('a notification from one instance reaches listeners on two others', async () => {
    const onB = await collect(b);
    const onC = await collect(c);
    await notifyTaskChanges(a, [11, 12]);
    await waitFor(() => onB.length === 2 && onC.length === 2, 'both listeners');
    expect(onB).toEqual([11, 12]);
    expect(onC).toEqual([11, 12]);
  });

  test('a rolled-back transaction notifies nobody; a committed one only once it commits', async () => {
    const got = await collect(b);
    await a.$client
      .begin(async (tx) => {
        await notifyTaskChanges(tx, [21]);
        throw new Error('roll back');
      })
      .catch(() => {});
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let notified!: () => void;
    const sent = new Promise<void>((r) => (notified = r));
    const committed = a.$client.begin(async (tx) => {
      await notifyTaskChanges(tx, [22]);
      notified();
      await held;
    });
    await sent;
    // A marker sent outside the transaction after its NOTIFY: once it has arrived, 22 would have too
    // had it been delivered before the commit.
    await notifyTaskChanges(c, [23]);
    await waitFor(() => got.includes(23), 'the marker');
    expect(got).toEqual([23]);
    release();
    await committed;
    await waitFor(() => got.includes(22), 'the committed change');
    expect(got).toEqual([23, 22]);
  });

  test('a batch of 5000 ids inside one transaction arrives complete', async () => {
    const got = await collect(c);
    const ids = Array.from({ length: 5000 }, (_, i) => 5_000_000 + i);
    await a.$client.begin((tx) => notifyTaskChanges(tx, ids));
    // Only this batch's ids count: a late notification of an earlier test may arrive meanwhile.
    const mine = () => got.filter((id) => id >= 5_000_000);
    await waitFor(() => mine().length >= ids.length, 'every id');
    expect(mine().sort((x, y) => x - y)).toEqual(ids);
  });

  test('foreign payloads on the channel are ignored and unlisten stops delivery', async () => {
    const got: number[] = [];
    const stop = await onTaskChanges(b, (ids) => got.push(...ids));
    const other = await collect(b);
    await a.$client.notify(TASKS_CHANNEL, 'not ids');
    await notifyTaskChanges(a, [31]);
    await waitFor(() => got.includes(31) && other.includes(31), 'the change');
    await stop();
    await notifyTaskChanges(a, [32]);
    await waitFor(() => other.includes(32), 'the remaining listener');
    // Only this test's ids count: a late notification of an earlier test may arrive meanwhile.
    expect(got.filter((id) => id === 31 || id === 32)).toEqual([31]);
  });
});

describe('option changes', () => {
  test('an option change announced by one instance reaches the others', async () => {
    let onB = 0;
    let onC = 0;
    unlistens.push(await onOptionsChanged(b, () => onB++), await onOptionsChanged(c, () => onC++));
    await a.$client.begin(async (tx) => {
      await tx`UPDATE options SET value = 'false' WHERE key = 'mj_notify_enabled'`;
      await notifyOptionsChanged(tx);
    });
    await waitFor(() => onB === 1 && onC === 1, 'both replicas told');
    await notifyOptionsChanged(a);
    await waitFor(() => onB === 2 && onC === 2, 'the second change');
  });
});
