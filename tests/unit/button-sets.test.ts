import { describe, expect, test } from 'bun:test';
import type { SyncFieldValues } from '../../src/contract/tasks.ts';
import {
  BUTTONS_SQL,
  compactButtons,
  compactStoredButtons,
  referenceText,
  splitButtons,
} from '../../src/db/sqlite/button-sets.ts';
import { createSqliteFeedReads } from '../../src/db/sqlite/feed-reads.ts';
import {
  findTaskByMjId,
  listTasks,
  ownTasksByMjIds,
  ownTasksByMjIdsSize,
  taskById,
} from '../../src/db/sqlite/listing.ts';
import { enqueueTaskChange, recordTaskHook } from '../../src/db/sqlite/outbox.ts';
import { applySyncOps, createSqliteSyncStore } from '../../src/db/sqlite/sync.ts';
import { createSqliteTaskAdminStore } from '../../src/db/sqlite/task-admin.ts';
import { describeButtons, gridButtons, upscaleButtons } from '../../src/simulator/buttons.ts';
import { memoryDb } from '../helpers/db.ts';
import { getTask } from '../helpers/factories.ts';

/**
 * `tasks.buttons` on SQLite: a compact reference to a `button_sets` template where it reproduces
 * the text byte for byte, the text itself otherwise; every read gives the original text.
 */

const HASH = '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';
const grid = (hash: string) => JSON.stringify(gridButtons(hash));
const raw = (db: ReturnType<typeof memoryDb>, id: number) =>
  (db.$client.query('SELECT buttons FROM tasks WHERE id = ?').get(id) as { buttons: string }).buttons;

function fields(buttons: string): SyncFieldValues {
  return {
    progress: '100%',
    status: 'SUCCESS',
    promptEn: 'p',
    state: '',
    startTime: 1,
    finishTime: 2,
    imageUrl: 'https://x/1.png',
    videoUrl: '',
    videoUrls: '',
    failReason: '',
    buttons,
    properties: '{"finalPrompt":"p"}',
  };
}

/** n unfinished rows of user 1, channel 1 (ids 1..n, mj ids m1..mn). */
function seeded(n: number) {
  const db = memoryDb();
  const insert = db.$client.prepare(
    "INSERT INTO tasks (id, user_id, channel_id, mj_id, submit_time, progress) VALUES (?1, 1, 1, 'm' || ?1, ?1, '10%')",
  );
  for (let i = 1; i <= n; i++) insert.run(i);
  return db;
}

describe('splitButtons', () => {
  test('finds the job hash of the simulator sets and reproduces them', () => {
    for (const text of [grid(HASH), JSON.stringify(upscaleButtons(HASH)), JSON.stringify(describeButtons())]) {
      const split = splitButtons(text)!;
      expect(split).not.toBeNull();
      expect(split.body.split('{{job}}').join(split.job)).toBe(text);
    }
    expect(splitButtons(grid(HASH))!.job).toBe(HASH);
    // Two different grids share one template.
    expect(splitButtons(grid('aaaaaaaaaaaaaaaaaaaa'))!.body).toBe(splitButtons(grid(HASH))!.body);
  });

  test('leaves alone what it cannot template: short, two hashes, the placeholder itself', () => {
    expect(splitButtons('[{"customId":"x"}]')).toBeNull();
    const two = JSON.stringify([...gridButtons(HASH), ...gridButtons('1234567890abcdef1234')]);
    expect(splitButtons(two)).toBeNull();
    expect(splitButtons(grid(HASH).replace('U1', '{{job}}'))).toBeNull();
  });
});

describe('tasks.buttons compact form', () => {
  test('round trip through the poller write: stored compact, read whole everywhere', async () => {
    const db = seeded(3);
    const text = grid(HASH);
    const ops = [1, 2].map((taskId) => ({ kind: 'update' as const, taskId, fields: fields(text) }));
    applySyncOps(db, ops, 10, () => '{}');
    expect(raw(db, 1)).toBe(referenceText(1, HASH));
    expect(raw(db, 1).length).toBeLessThan(60);
    expect(db.$client.query('SELECT count(*) AS n FROM button_sets').get()).toEqual({ n: 1 });
    expect(taskById(db, 1)!.buttons).toBe(text);
    expect(getTask(db, 2)!.buttons).toBe(text);
    expect(findTaskByMjId(db, 'm1', 1)!.buttons).toBe(text);
    expect(listTasks(db, { userId: 1 }, { page_size: 10 }).items.map((r) => r.buttons)).toEqual(['', text, text]);
    expect(ownTasksByMjIds(db, 1, ['m1', 'm3']).map((r) => r.buttons)).toEqual([text, '']);
    const feed = createSqliteFeedReads(db);
    expect(feed.row(2)!.buttons).toBe(text);
    expect(
      feed
        .replay(1, 0, 0, 10)
        .map((r) => r.buttons)
        .sort(),
    ).toEqual(['', text, text]);
    // The poller reads the expanded text, so an unchanged set is not written again.
    db.$client.run("UPDATE tasks SET progress = '50%' WHERE id = 1");
    const page = await createSqliteSyncStore(db).unfinishedPage(1, 0, 10);
    expect(page.find((r) => r.id === 1)!.buttons).toBe(text);
  });

  test('the push and resync read (channelTasks) gives the whole text too', async () => {
    const db = seeded(1);
    const text = grid(HASH);
    applySyncOps(
      db,
      [{ kind: 'update', taskId: 1, fields: { ...fields(text), progress: '90%', status: 'IN_PROGRESS' } }],
      10,
      () => '{}',
    );
    expect(raw(db, 1)).toBe(referenceText(1, HASH));
    const [row] = await createSqliteTaskAdminStore(db).channelTasks(1, 'm1');
    expect(row!.buttons).toBe(text);
  });

  test('a webhook payload is rendered from the whole text', () => {
    const db = seeded(1);
    recordTaskHook(db, { taskId: 1, userId: 1, tokenId: 0, url: 'https://hooks.example.com/x' });
    applySyncOps(db, [{ kind: 'update', taskId: 1, fields: fields(grid(HASH)) }], 10, (row) => row.buttons);
    expect(raw(db, 1)).toStartWith('{"set":');
    expect(db.$client.query('SELECT payload FROM webhook_deliveries').all()).toEqual([{ payload: grid(HASH) }]);
    expect(enqueueTaskChange(db, [1], 11, (row) => row.buttons)).toBe(1);
    expect(db.$client.query('SELECT payload FROM webhook_deliveries ORDER BY id DESC LIMIT 1').get()).toEqual({
      payload: grid(HASH),
    });
  });

  test('a row inserted with plain SQL holding the full JSON reads unchanged, and can be overwritten', () => {
    const db = seeded(1);
    const text = grid(HASH);
    db.$client.run('INSERT INTO tasks (id, user_id, mj_id, submit_time, buttons) VALUES (5, 1, ?1, 5, ?2)', [
      'direct',
      text,
    ]);
    expect(raw(db, 5)).toBe(text);
    expect(taskById(db, 5)!.buttons).toBe(text);
    // An operator's UPDATE of a compact row with full JSON wins as written.
    applySyncOps(db, [{ kind: 'update', taskId: 1, fields: fields(text) }], 10, () => '{}');
    db.$client.run('UPDATE tasks SET buttons = ?1 WHERE id = 1', ['[{"customId":"y"}]']);
    expect(taskById(db, 1)!.buttons).toBe('[{"customId":"y"}]');
  });

  test('a text no template reproduces is stored whole; a text shaped like a reference still round-trips', () => {
    const db = seeded(3);
    const two = JSON.stringify([...gridButtons(HASH), ...gridButtons('1234567890abcdef1234')]);
    const lookalike = '{"set":1,"job":"abc"}';
    const broken = '{"set":1,"job":"{{job}}"}';
    applySyncOps(
      db,
      [
        { kind: 'update', taskId: 1, fields: fields(two) },
        { kind: 'update', taskId: 2, fields: fields(lookalike) },
        { kind: 'update', taskId: 3, fields: fields(broken) },
      ],
      10,
      () => '{}',
    );
    expect(raw(db, 1)).toBe(two);
    expect(raw(db, 2)).not.toBe(lookalike);
    expect(raw(db, 3)).not.toBe(broken);
    expect([1, 2, 3].map((id) => taskById(db, id)!.buttons)).toEqual([two, lookalike, broken]);
  });

  test("the operators' view task_buttons reads every row as the app does", () => {
    const db = seeded(2);
    const view = (
      db.$client.query(`SELECT sql FROM sqlite_master WHERE name = 'task_buttons'`).get() as { sql: string }
    ).sql;
    expect(view).toContain(BUTTONS_SQL);
    applySyncOps(db, [{ kind: 'update', taskId: 1, fields: fields(grid(HASH)) }], 10, () => '{}');
    db.$client.run('UPDATE tasks SET buttons = ?1 WHERE id = 2', ['[{"customId":"y"}]']);
    expect(db.$client.query('SELECT buttons FROM task_buttons ORDER BY id').all()).toEqual([
      { buttons: grid(HASH) },
      { buttons: '[{"customId":"y"}]' },
    ]);
    expect(db.$client.query(`SELECT buttons FROM task_buttons WHERE mj_id = 'm1'`).get()).toEqual({
      buttons: grid(HASH),
    });
  });

  test('a reference to a missing template, or not JSON, reads as stored (no error)', () => {
    const db = seeded(1);
    db.$client.run('UPDATE tasks SET buttons = ?1 WHERE id = 1', ['{"set":1,"job":']);
    expect(taskById(db, 1)!.buttons).toBe('{"set":1,"job":');
    db.$client.run('UPDATE tasks SET buttons = ?1 WHERE id = 1', [referenceText(99, 'abc')]);
    expect(taskById(db, 1)!.buttons).toBe(referenceText(99, 'abc'));
    expect(db.$client.query(`SELECT ${BUTTONS_SQL} AS b FROM tasks`).get()).toEqual({ b: referenceText(99, 'abc') });
  });

  test('a template added in a transaction that rolls back is not cached', () => {
    const db = seeded(1);
    const c = db.$client;
    expect(() =>
      c.transaction(() => {
        compactButtons(c, grid(HASH));
        throw new Error('rollback');
      })(),
    ).toThrow('rollback');
    expect(c.query('SELECT count(*) AS n FROM button_sets').get()).toEqual({ n: 0 });
    const stored = compactButtons(c, grid(HASH));
    c.run('UPDATE tasks SET buttons = ?1 WHERE id = 1', [stored]);
    expect(taskById(db, 1)!.buttons).toBe(grid(HASH));
  });

  test('listings, list-by-condition sizes and the feed read the same before and after compaction', () => {
    const db = seeded(0);
    const insert =
      db.$client.prepare(`INSERT INTO tasks (user_id, channel_id, mj_id, submit_time, progress, status, buttons)
      VALUES (1 + (?1 % 2), 1, 'm' || ?1, ?1, '100%', 'SUCCESS', ?2)`);
    const texts = (i: number) =>
      i % 5 === 0
        ? ''
        : i % 5 === 1
          ? JSON.stringify(describeButtons())
          : i % 5 === 2
            ? JSON.stringify(upscaleButtons(`${i}`.padStart(20, 'a')))
            : grid(`${i}`.padStart(24, 'b'));
    for (let i = 1; i <= 60; i++) insert.run(i, texts(i));
    const read = () => ({
      all: listTasks(db, {}, { page_size: 100 }),
      user: listTasks(db, { userId: 2 }, { page_size: 7, p: 2 }),
      range: listTasks(db, { start: 10, end: 40 }, { page_size: 100 }),
      own: ownTasksByMjIds(db, 1, ['m1', 'm3', 'm5', 'm7']),
      size: ownTasksByMjIdsSize(db, 1, ['m1', 'm3', 'm5', 'm7'], 1_000_000),
      replay: createSqliteFeedReads(db).replay(null, 0, 0, 100),
      fp: createSqliteFeedReads(db).fingerprints([1, 2, 3, 4, 5]),
      replaySize: createSqliteFeedReads(db).replaySize(null, 0, 0, 100, 1_000_000, 10_000_000),
    });
    const before = read();
    const c = db.$client;
    expect(compactStoredButtons(c, 7)).toEqual({ scanned: 48, compacted: 48 });
    expect(compactStoredButtons(c, 7)).toEqual({ scanned: 0, compacted: 0 });
    expect((c.query(`SELECT count(*) AS n FROM tasks WHERE buttons LIKE '{"set":%'`).get() as { n: number }).n).toBe(
      48,
    );
    expect(c.query('SELECT count(*) AS n FROM button_sets').get()).toEqual({ n: 3 });
    expect(read()).toEqual(before);
  });
});
