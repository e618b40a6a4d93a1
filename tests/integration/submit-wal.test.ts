import { Database } from 'bun:sqlite';
import { afterAll, describe, expect, test } from 'bun:test';
import { readFileSync, statSync } from 'node:fs';
import { type RelayWorld, relayWorld } from './relay-fixture.ts';

/**
 * What one accepted submit writes to the WAL, counted in pages per b-tree (SPEC §12: under
 * 60 KiB of WAL per submit). A reader holds a snapshot, so no checkpoint restarts the WAL while
 * the submits run; every frame appended is one page image.
 */
let w: RelayWorld;
afterAll(async () => w?.stop());

async function pagesPerSubmit(n: number): Promise<{ total: number; byTree: Record<string, number> }> {
  w = await relayWorld({ env: { UPDATE_TASK: 'false' } });
  const c = await w.caller(1e12);
  for (let i = 0; i < 5; i++)
    expect((await w.post('/mj/submit/imagine', { prompt: `warm ${i}` }, c.headers)).json.code).toBe(1);
  const walPath = `${w.srv.dbPath}-wal`;
  w.srv.db.$client.exec('PRAGMA wal_checkpoint(TRUNCATE)');
  const reader = new Database(w.srv.dbPath, { readonly: true });
  reader.exec('BEGIN');
  reader.query('SELECT count(*) FROM tasks').get();
  const from = Math.max(32, statSync(walPath).size);
  for (let i = 0; i < n; i++)
    expect((await w.post('/mj/submit/imagine', { prompt: `a red fox ${i}` }, c.headers)).json.code).toBe(1);
  const wal = readFileSync(walPath);
  reader.exec('COMMIT');
  reader.close();
  const pageSize = wal.readUInt32BE(8);
  const names = new Map<number, string>();
  for (const r of w.srv.db.$client.query('SELECT pageno, name FROM dbstat').all() as Array<{
    pageno: number;
    name: string;
  }>)
    names.set(r.pageno, r.name);
  const byTree: Record<string, number> = {};
  let total = 0;
  for (let off = from; off + 24 + pageSize <= wal.length; off += 24 + pageSize) {
    const name = names.get(wal.readUInt32BE(off)) ?? 'other';
    byTree[name] = (byTree[name] ?? 0) + 1 / n;
    total += 1 / n;
  }
  return { total, byTree };
}

describe('WAL per submit', () => {
  test('each listing table takes one page per submit, and the settle leaves the unfinished index alone', async () => {
    const { total, byTree } = await pagesPerSubmit(10);
    const round = (x: number | undefined) => Math.round((x ?? 0) * 10) / 10;
    // WITHOUT ROWID: one b-tree per listing table, no second copy of a bucket row to rewrite.
    expect(round(byTree.task_time_buckets)).toBe(1);
    expect(round(byTree.task_id_blocks)).toBe(1);
    expect(round(byTree.task_counters)).toBe(1);
    expect(Object.keys(byTree).filter((k) => k.startsWith('sqlite_autoindex_task') || k.includes('cover'))).toEqual([]);
    // Inserted unfinished once; the settle of a task not done does not set progress again.
    expect(round(byTree.tasks_unfinished_idx)).toBe(1);
    // Two transactions: the insert (with its charge, consume log and triggers) and the settle.
    // 27.2 pages before (table + primary key + covering index per bucket row, (user_id, mj_id), the
    // unfinished index twice); 23 without the counted filters, plus a fraction for page splits.
    // The counted filters (status × action per owner): one page of task_filter_counts; the status
    // indexes leave out the empty status a submit writes (the poller sets it), the action indexes
    // IMAGINE (what these submits are).
    expect(round(byTree.task_filter_counts)).toBe(1);
    expect(round(byTree.tasks_action_idx)).toBe(0);
    expect(round(byTree.tasks_user_id_action_idx)).toBe(0);
    expect(round(byTree.tasks_status_idx)).toBe(0);
    expect(round(byTree.tasks_user_id_status_idx)).toBe(0);
    // 24.3 with them (23 before them): 26 pages of 2 KiB stay well under SPEC §12's 60 KiB.
    expect(total).toBeLessThan(26);
  });
});
