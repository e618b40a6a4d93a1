import { describe, expect, test } from 'bun:test';
import type { SyncOp } from '../../src/contract/tasks.ts';
import type { DB } from '../../src/db/client.ts';
import { FILTER_COUNTS_DEFERRED_TABLE } from '../../src/db/listing-sql-sqlite.ts';
import { applySyncOps } from '../../src/db/sqlite/sync.ts';
import { memoryDb } from '../helpers/db.ts';

/**
 * A poll batch writes its status moves to task_filter_counts summed per key, with the filters'
 * trigger off for the batch only (src/db/sqlite/filter-deltas.ts): the counts must stay exactly
 * what a GROUP BY of the tasks says, for updates, failure endings with refunds, writes that lose
 * their compare-and-set, and a row the database refuses inside an isolated batch.
 */

const STATUSES = ['', 'NOT_START', 'SUBMITTED', 'IN_PROGRESS'];
const ACTIONS = ['IMAGINE', 'UPSCALE', 'VARIATION'];
const noPayload = () => '{}';

function seed(db: DB, n: number): void {
  const c = db.$client;
  c.run("INSERT INTO users (id, username, quota, created_time) VALUES (1, 'a', 0, 0), (2, 'b', 0, 0)");
  const insert = c.prepare(
    `INSERT INTO tasks (id, user_id, token_id, channel_id, action, mj_id, submit_time, status, progress, quota)
     VALUES (?1, ?2, 0, ?3, ?4, ?5, ?1, ?6, ?7, 100)`,
  );
  c.transaction(() => {
    for (let id = 1; id <= n; id++) {
      const finished = id % 11 === 0;
      insert.run(
        id,
        1 + (id % 2),
        1 + (id % 3),
        ACTIONS[id % 3]!,
        `mj${id}`,
        finished ? 'SUCCESS' : STATUSES[id % 4]!,
        finished ? '100%' : '0%',
      );
    }
  })();
}

/** task_filter_counts without its zero rows, and the same counted from the tasks themselves. */
function countsAndReference(db: DB) {
  const c = db.$client;
  const kept = c
    .query('SELECT owner, owner_id, status, action, count FROM task_filter_counts WHERE count <> 0 ORDER BY 1, 2, 3, 4')
    .all();
  const naive = c
    .query(
      `SELECT * FROM (
         SELECT 'all' AS owner, 0 AS owner_id, status, action, count(*) AS count FROM tasks GROUP BY status, action
         UNION ALL SELECT 'channel', channel_id, status, action, count(*) FROM tasks GROUP BY channel_id, status, action
         UNION ALL SELECT 'user', user_id, status, action, count(*) FROM tasks GROUP BY user_id, status, action)
       ORDER BY 1, 2, 3, 4`,
    )
    .all();
  return { kept, naive };
}

function mixedBatch(from: number, to: number): SyncOp[] {
  const ops: SyncOp[] = [];
  for (let id = from; id <= to; id++) {
    const k = id % 5;
    if (k === 0) {
      ops.push({
        kind: 'fail',
        taskId: id,
        // Every other ending names a quota the row does not hold: it loses its compare-and-set.
        expectedQuota: id % 2 ? 100 : 7,
        fields: { failReason: 'upstream task failed', finishTime: id },
        modelName: 'mj_imagine',
      });
    } else if (k === 1) {
      // A progress write that leaves the status alone.
      ops.push({ kind: 'update', taskId: id, fields: { progress: '40%' } as never, columns: ['progress'] });
    } else {
      const status = k === 2 ? 'SUCCESS' : 'IN_PROGRESS';
      ops.push({
        kind: 'update',
        taskId: id,
        fields: { status, progress: status === 'SUCCESS' ? '100%' : '10%', state: `s${id}` } as never,
        columns: ['status', 'progress', 'state'],
      });
    }
  }
  return ops;
}

describe('poll batches keep the filter counts exact', () => {
  test('updates, endings and lost compare-and-sets, batch after batch', () => {
    const db = memoryDb();
    seed(db, 600);
    const before = countsAndReference(db);
    expect(before.kept).toEqual(before.naive);
    for (let from = 1; from <= 600; from += 100) {
      applySyncOps(db, mixedBatch(from, from + 99), 1_000, noPayload);
      const { kept, naive } = countsAndReference(db);
      expect(kept).toEqual(naive);
    }
    // Some rows of every kind moved (the check could fail): finished now, and ended as failures.
    const c = db.$client;
    expect(c.query("SELECT count(*) AS n FROM tasks WHERE status = 'SUCCESS'").get()).toEqual({ n: 163 });
    expect(c.query("SELECT count(*) AS n FROM tasks WHERE status = 'FAILURE'").get()).toEqual({ n: 55 });
    // The trigger is on again once a batch is done: a plain write is counted by it.
    expect(c.query(`SELECT count(*) AS n FROM ${FILTER_COUNTS_DEFERRED_TABLE}`).get()).toEqual({ n: 0 });
    c.run("UPDATE tasks SET status = 'MODAL' WHERE id IN (3, 4, 8)");
    const after = countsAndReference(db);
    expect(after.kept).toEqual(after.naive);
  });

  test('a refused row is left out alone, its batch still counted exactly', () => {
    const db = memoryDb();
    seed(db, 200);
    const c = db.$client;
    c.run(
      "CREATE TRIGGER refuse_one BEFORE UPDATE OF state ON tasks WHEN NEW.state = 's7' BEGIN SELECT RAISE(ABORT, 'refused in test'); END",
    );
    const results = applySyncOps(db, mixedBatch(1, 100), 1_000, noPayload);
    expect(results[6]?.refused).toContain('refused in test');
    expect(c.query('SELECT status FROM tasks WHERE id = 7').get()).toEqual({ status: STATUSES[3] });
    expect(results.filter((r) => r.won).length).toBeGreaterThan(70);
    const { kept, naive } = countsAndReference(db);
    expect(kept).toEqual(naive);
    expect(c.query(`SELECT count(*) AS n FROM ${FILTER_COUNTS_DEFERRED_TABLE}`).get()).toEqual({ n: 0 });
  });

  test('a batch that fails whole leaves the counts and the trigger as they were', () => {
    const db = memoryDb();
    seed(db, 50);
    const c = db.$client;
    const before = countsAndReference(db).kept;
    // Not a row error: the whole batch is rolled back.
    c.run(
      "CREATE TRIGGER break_all BEFORE UPDATE OF state ON tasks WHEN NEW.state = 's9' BEGIN SELECT RAISE(ROLLBACK, 'disk on fire'); END",
    );
    expect(() => applySyncOps(db, mixedBatch(1, 50), 1_000, noPayload)).toThrow();
    expect(countsAndReference(db).kept).toEqual(before);
    expect(c.query(`SELECT count(*) AS n FROM ${FILTER_COUNTS_DEFERRED_TABLE}`).get()).toEqual({ n: 0 });
    c.run("UPDATE tasks SET status = 'MODAL' WHERE id = 2");
    const after = countsAndReference(db);
    expect(after.kept).toEqual(after.naive);
  });
});
