import { expect, test } from 'bun:test';
import { startWalCheckpointer } from '../../src/db/sqlite/checkpointer.ts';
import { tempDb } from '../helpers/db.ts';
import { waitFor } from '../helpers/server.ts';

/**
 * WAL checkpoints off the main thread (issue 15): the main connection never checkpoints inside
 * its commits while the checkpointer runs, and the checkpointer's thread copies the whole WAL back.
 */
test('the main connection stops checkpointing and the thread checkpoints the whole WAL', async () => {
  const { db, path, cleanup } = tempDb();
  const c = db.$client;
  const checkpointer = startWalCheckpointer(db, path, { everyMs: 20 });
  try {
    expect(c.query('PRAGMA wal_autocheckpoint').get()).toEqual({ wal_autocheckpoint: 0 });
    c.exec('CREATE TABLE scratch (v TEXT NOT NULL)');
    const insert = c.prepare('INSERT INTO scratch (v) VALUES (?)');
    const page = 'x'.repeat(4000);
    // Thirty commits of ~100 pages each, back to back: with SQLite's automatic checkpoint the
    // WAL would be copied back and restarted inside these commits, past 1,000 pages.
    for (let t = 0; t < 30; t++)
      c.transaction(() => {
        for (let i = 0; i < 100; i++) insert.run(page);
      })();
    const done = await waitFor(() => {
      const last = checkpointer.last();
      return last && last.log > 0 && last.checkpointed === last.log ? last : null;
    }, 'a complete checkpoint by the thread');
    expect(done.log).toBeGreaterThanOrEqual(3000);
    expect(done.busy).toBe(0);
  } finally {
    await checkpointer.stop();
  }
  expect(c.query('PRAGMA wal_autocheckpoint').get()).toEqual({ wal_autocheckpoint: 1000 });
  cleanup();
});
