import { describe, expect, test } from 'bun:test';
import { TASK_OVERSIZE_SQL } from '../../src/db/schema/tasks.ts';
import { ANY_OVERSIZE_SQL, listTasks } from '../../src/db/sqlite/listing.ts';
import { TASK_TEXT_BOUNDS } from '../../src/lib/text-bounds.ts';
import { memoryDb } from '../helpers/db.ts';

/**
 * A listing page reads texts uncut while the partial index tasks_oversize_idx is empty, and cut
 * by SQLite once any row holds a longer text: the index must hold every row that a cut would change.
 */

const anyOversize = (db: ReturnType<typeof memoryDb>) =>
  (db.$client.query(ANY_OVERSIZE_SQL).get() as { big: number }).big === 1;

describe('tasks_oversize_idx', () => {
  test('names exactly the listing bounds, column by column', () => {
    const db = memoryDb();
    db.$client.run("INSERT INTO tasks (id, user_id, mj_id, submit_time) VALUES (1, 1, 'm', 1)");
    expect(Object.keys(TASK_TEXT_BOUNDS).length).toBe(14);
    for (const [column, max] of Object.entries(TASK_TEXT_BOUNDS)) {
      expect(TASK_OVERSIZE_SQL).toContain(`length(CAST(${column} AS BLOB)) > ${max}`);
      db.$client.run(`UPDATE tasks SET ${column} = ?1 WHERE id = 1`, ['x'.repeat(max)]);
      expect({ column, at: 'bound', big: anyOversize(db) }).toEqual({ column, at: 'bound', big: false });
      db.$client.run(`UPDATE tasks SET ${column} = ?1 WHERE id = 1`, ['x'.repeat(max + 1)]);
      expect({ column, at: 'bound + 1', big: anyOversize(db) }).toEqual({ column, at: 'bound + 1', big: true });
      // Counted in bytes: multi-byte text within the bound in characters is in the index too (a superset is safe).
      db.$client.run(`UPDATE tasks SET ${column} = ?1 WHERE id = 1`, ['é'.repeat(Math.ceil((max + 1) / 2))]);
      expect(anyOversize(db)).toBe(true);
      db.$client.run(`UPDATE tasks SET ${column} = '' WHERE id = 1`);
      expect(anyOversize(db)).toBe(false);
    }
  });

  test('the probe reads the partial index, not the table (with and without statistics)', () => {
    const db = memoryDb();
    db.$client.run(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
      INSERT INTO tasks (user_id, mj_id, submit_time, prompt) SELECT i % 7, printf('%016d', i), i, 'a prompt' FROM n`);
    for (let k = 0; k < 2; k++) {
      const plan = (db.$client.query(`EXPLAIN QUERY PLAN ${ANY_OVERSIZE_SQL}`).all() as Array<{ detail: string }>).map(
        (r) => r.detail,
      );
      expect(plan).toContain('SCAN tasks USING INDEX tasks_oversize_idx');
      db.$client.run('ANALYZE');
    }
  });

  test('a page reads the same rows whether or not some other row is oversize', () => {
    const db = memoryDb();
    const insert = db.$client.prepare(
      'INSERT INTO tasks (user_id, mj_id, submit_time, prompt, buttons, image_url) VALUES (?1, ?2, ?3, ?4, \'[{"label":"U1"}]\', \'https://x/1.png\')',
    );
    for (let i = 0; i < 60; i++)
      insert.run(1 + (i % 2), `mj${i}`, 1_700_000_000_000 + i, `prompt ${i} ${'é'.repeat(i)}`);
    const before = listTasks(db, { userId: 1 }, { page_size: 100 });
    expect(before.items.length).toBe(30);
    db.$client.run(
      'UPDATE tasks SET prompt = ?1 WHERE user_id = 2 AND id = (SELECT max(id) FROM tasks WHERE user_id = 2)',
      ['y'.repeat(100_000)],
    );
    expect(anyOversize(db)).toBe(true);
    expect(listTasks(db, { userId: 1 }, { page_size: 100 })).toEqual(before);
    // And the oversize row itself comes back cut to one past its bound.
    const other = listTasks(db, { userId: 2 }, { page_size: 1 });
    expect(other.items[0]!.prompt.length).toBe(TASK_TEXT_BOUNDS.prompt! + 1);
  });
});
