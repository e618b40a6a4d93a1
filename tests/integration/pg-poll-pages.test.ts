import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import type { TaskStore } from '../../src/contract/tasks.ts';
import { unfinishedPages } from '../../src/domain/task-sync.ts';
import {
  type Backend,
  charged,
  type Fx,
  fx,
  makeChannel,
  NOW,
  PRICE,
  pgBackend,
  sqliteBackend,
} from './pg-task-store-fixture.ts';

/**
 * The poller's keyset walk (issue 15) on both adapters: the channels with unfinished tasks, then
 * each channel's tasks page by page. Every task unfinished throughout the walk is read exactly
 * once, one finished ahead of the walk is not read, one inserted meanwhile is; and both databases
 * serve the reads from the partial index `tasks_unfinished_idx`.
 */

const backends: Array<[string, () => Promise<Backend>]> = [
  ['SQLite', sqliteBackend],
  ['PostgreSQL', pgBackend],
];

const end = (s: TaskStore, id: number) =>
  s.money.failAndRefund(id, PRICE, { failReason: 'ended' }, NOW + 50, 'mj_imagine');

for (const [label, open] of backends) {
  describe(`poll pages on ${label}`, () => {
    let b: Backend;
    beforeAll(async () => {
      b = await open();
    });
    afterAll(async () => {
      await b?.close();
    });

    test('every unfinished task exactly once across pages, with tasks inserted and finished during the walk', async () => {
      const s = b.stores[0]!;
      const f = await fx(b, { quota: 100 * PRICE });
      const g: Fx = { ...f, channelId: await makeChannel(b) };
      const a = [];
      for (let i = 0; i < 5; i++) a.push(await charged(s, f, i));
      const c = [await charged(s, g, 10), await charged(s, g, 11), await charged(s, g, 12)];
      await end(s, a[1]!);

      const channels = await s.sync.unfinishedChannels();
      expect(channels).toEqual([f.channelId, g.channelId]);
      const walked: number[][] = [];
      let inserted = 0;
      for (const channelId of channels) {
        for await (const page of unfinishedPages(s.sync, channelId, 2)) {
          walked.push(page.map((r) => r.id));
          if (walked.length === 1) {
            // Another writer meanwhile (a second store: another connection, or replica): one task
            // finished ahead of the walk, one behind it, one new task on the channel being walked.
            await end(b.stores[1]!, a[3]!);
            await end(b.stores[1]!, a[0]!);
            inserted = await charged(b.stores[1]!, f, 5);
          }
        }
      }
      expect(walked).toEqual([[a[0]!, a[2]!], [a[4]!, inserted], [c[0]!, c[1]!], [c[2]!]]);
      // The columns the poller compares, ends and refunds, named as the domain names them.
      const [first] = await s.sync.unfinishedPage(g.channelId, 0, 1);
      expect(first).toEqual({
        id: c[0]!,
        userId: f.userId,
        channelId: g.channelId,
        action: 'IMAGINE',
        mjId: '',
        submitTime: NOW + 10,
        updatedTime: NOW + 10,
        quota: PRICE,
        progress: '0%',
        status: '',
        promptEn: '',
        state: '',
        startTime: 0,
        finishTime: 0,
        imageUrl: '',
        videoUrl: '',
        videoUrls: '',
        failReason: '',
        buttons: '',
        properties: '',
      });
      expect(await s.sync.unfinishedPage(g.channelId, c[2]!, 10)).toEqual([]);
    });

    test('the reads walk the partial index, never the table', async () => {
      if (b.name === 'sqlite') {
        const plan = async (q: string) =>
          (await b.all<{ detail: string }>(`EXPLAIN QUERY PLAN ${q}`)).map((r) => r.detail).join(' | ');
        const page = await plan(
          "SELECT id FROM tasks WHERE progress <> '100%' AND channel_id = 1 AND id > 0 ORDER BY id LIMIT 100",
        );
        expect(page).toContain('USING INDEX tasks_unfinished_idx (channel_id=? AND id>?)');
        expect(page).not.toContain('TEMP B-TREE');
        return;
      }
      // A table mostly of finished tasks, as in production, with its statistics taken.
      await b.all(
        `INSERT INTO tasks (user_id, channel_id, action, mj_id, prompt, submit_time, progress, status, quota, updated_time)
        SELECT 1, 1 + n % 3, 'IMAGINE', 'done' || n, 'p', $1::bigint, '100%', 'SUCCESS', 0, $1::bigint FROM generate_series(1, 5000) AS n`,
        NOW,
      );
      await b.all('ANALYZE tasks');
      const explain = async (q: string) =>
        (await b.all<Record<string, string>>(`EXPLAIN ${q}`)).map((r) => Object.values(r)[0]).join('\n');
      const page = await explain(
        "SELECT id FROM tasks WHERE progress <> '100%' AND channel_id = 1 AND id > 0 ORDER BY id LIMIT 100",
      );
      const channels = await explain(
        `SELECT (SELECT channel_id FROM tasks WHERE progress <> '100%' AND channel_id > 0 ORDER BY channel_id LIMIT 1)`,
      );
      expect(channels).toContain('tasks_unfinished_idx');
      expect(channels).not.toContain('Seq Scan');
      // One range of the partial index (with a handful of rows expected, a bitmap scan and a sort
      // of them may be what the planner prices lowest).
      expect(page).toMatch(/Index (Only )?Scan on tasks_unfinished_idx|Index Scan using tasks_unfinished_idx/);
      expect(page).toContain('Index Cond: ((channel_id = 1) AND (id > 0))');
      expect(page).not.toContain('Seq Scan');
    });
  });
}
