import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTRPCClient, httpBatchLink, TRPCClientError } from '@trpc/client';
import type { RetentionHooks, RetentionStore } from '../../src/contract/retention.ts';
import { type RetentionEnv, retentionEnvOf, runRetention } from '../../src/domain/retention.ts';
import { ManualClock } from '../../src/lib/clock.ts';
import type { TaskFilter } from '../../src/lib/paging.ts';
import type { AppRouter } from '../../src/trpc/routers/index.ts';
import { archiveLines, balances, DAY, listingMismatches, seedHistory } from '../helpers/retention.ts';
import { ROOT_HEADERS, startTestServer, type TestServer } from '../helpers/server.ts';

/**
 * Retention (SPEC §17) on SQLite and on PostgreSQL (the real private cluster): unfinished tasks
 * stay, options at 0 remove nothing, every removed row is in the archive exactly once even after
 * passes that crash between the archive's fsync and the delete's commit, every balance still
 * rebuilds from the logs alone, every listing total and page equals a naive COUNT(*) / ORDER BY,
 * and admin.retention.run is for admins only.
 */

const NOW = 1_795_000_000_000;
const CUTOFF = NOW - 30 * DAY;

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`retention on ${backend}`, () => {
    const clock = new ManualClock(NOW);
    const dir = mkdtempSync(join(tmpdir(), 'ret-archive-'));
    let server: TestServer;
    const client = (headers: Record<string, string>) =>
      createTRPCClient<AppRouter>({ links: [httpBatchLink({ url: `${server.url}/trpc`, headers: () => headers })] });
    const root = () => client(ROOT_HEADERS);
    let expired: { tasks: number[]; unfinished: number[]; logs: number[] };
    const env = (): RetentionEnv => ({ ...retentionEnvOf(server.deps), batchSize: 7 });

    /**
     * A store whose `table` pass "crashes" right after its `nth` archive append (no delete), or
     * right after its `nth` committed group (`on: 'commit'`): no discard either way.
     */
    function crashingAfter(table: 'tasks' | 'logs', nth: number, on: 'archive' | 'commit' = 'archive'): RetentionStore {
      const real = server.deps.taskStore.retention;
      let calls = 0;
      const crash = () => {
        throw new Error('simulated crash');
      };
      const wrap = (hooks: RetentionHooks): RetentionHooks => ({
        ...hooks,
        async archive(t, groups) {
          const books = await hooks.archive(t, groups);
          if (on === 'archive' && ++calls === nth) crash();
          return books;
        },
        committed(k) {
          hooks.committed(k);
          if (on === 'commit' && ++calls === nth) crash();
        },
        discard: async () => {},
      });
      return {
        ...real,
        removeExpiredTasks: (c, n, h) => real.removeExpiredTasks(c, n, table === 'tasks' ? wrap(h) : h),
        removeExpiredLogs: (c, n, h) => real.removeExpiredLogs(c, n, table === 'logs' ? wrap(h) : h),
      };
    }

    beforeAll(async () => {
      server = await startTestServer({ backend, clock, env: { ARCHIVE_DIR: dir } });
      await seedHistory(server.sql, NOW, { tasks: 400, logs: 300 });
      const ids = async (q: string) => (await server.sql<{ id: number }>(q)).map((r) => r.id);
      expired = {
        tasks: await ids(
          `SELECT id FROM tasks WHERE submit_time < ${CUTOFF} AND progress = '100%' AND status IN ('SUCCESS', 'FAILURE') ORDER BY id`,
        ),
        unfinished: await ids(`SELECT id FROM tasks WHERE progress <> '100%' ORDER BY id`),
        logs: await ids(`SELECT id FROM logs WHERE created_time < ${CUTOFF} ORDER BY id`),
      };
    });

    afterAll(async () => {
      await server?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    test('with both options at 0 (the default) a pass removes and writes nothing', async () => {
      const report = await root().admin.retention.run.mutate();
      expect(report.tasks).toEqual({ cutoff: null, archived: 0, removed: 0, batches: 0 });
      expect(report.logs).toEqual({ cutoff: null, archived: 0, removed: 0, batches: 0, carried_forward: 0 });
      expect(report.archive_files).toEqual([]);
      expect(archiveLines(dir, 'tasks')).toEqual([]);
      expect((await server.sql<{ n: number }>('SELECT count(*) AS n FROM tasks'))[0]!.n).toEqual(400);
    });

    test('the options take whole non-negative days; admin.retention.run is for admins', async () => {
      for (const value of [-1, 1.5, '30', null]) {
        const err = await root()
          .admin.option.update.mutate({ key: 'task_retention_days', value })
          .catch((e: unknown) => e);
        expect(err).toBeInstanceOf(TRPCClientError);
        expect((err as TRPCClientError<AppRouter>).data?.code).toBe('BAD_REQUEST');
      }
      await server.sql(
        `INSERT INTO users (id, username, display_name, role, status, access_token, quota, created_time)
         VALUES (9, 'common9', 'common9', 1, 1, 'common-user-access-token-0123456789', 0, 0)`,
      );
      const common = client({ authorization: 'Bearer common-user-access-token-0123456789', 'new-api-user': '9' });
      const err = await common.admin.retention.run.mutate().catch((e: unknown) => e);
      expect((err as TRPCClientError<AppRouter>).data?.code).toBe('FORBIDDEN');
      const http = await fetch(`${server.url}/trpc/admin.retention.run`, { method: 'POST' });
      expect(http.status).toBe(401);
      await server.sql('DELETE FROM users WHERE id = 9');
      for (const key of ['task_retention_days', 'log_retention_days'])
        expect(await root().admin.option.update.mutate({ key, value: 30 })).toEqual({ key, value: 30 });
    });

    test('a pass that crashes between the archive fsync and a delete commit leaves rows in both places', async () => {
      await expect(runRetention({ ...env(), retention: crashingAfter('tasks', 3) })).rejects.toThrow('simulated crash');
      const archived = archiveLines(dir, 'tasks').map((l) => l.row.id as number);
      const left = new Set((await server.sql<{ id: number }>('SELECT id FROM tasks')).map((r) => r.id));
      // Two batches went, the third is archived but still in the table.
      expect(archived.length).toBe(21);
      expect(archived.filter((id) => left.has(id)).length).toBe(7);
      // A crash after a committed group (SQLite commits a batch's groups one by one: 2, 2, 2, 1 rows).
      await expect(runRetention({ ...env(), retention: crashingAfter('tasks', 3, 'commit') })).rejects.toThrow(
        'simulated crash',
      );
      const lines = archiveLines(dir, 'tasks').map((l) => l.row.id as number);
      const kept = new Set((await server.sql<{ id: number }>('SELECT id FROM tasks')).map((r) => r.id));
      expect(lines.filter((id) => kept.has(id)).length).toBe(backend === 'sqlite' ? 1 : 0);
      // Logs: the tasks go this time, the logs' second batch crashes (its carry-forward rolled back with it).
      // Between two of the tasks' transactions of that pass, the listings are exact too.
      const crashing = crashingAfter('logs', 2);
      let turns = 0;
      let during = null as string[] | null;
      const watched: RetentionStore = {
        ...crashing,
        removeExpiredTasks: (c, n, h) =>
          crashing.removeExpiredTasks(c, n, {
            ...h,
            async between() {
              if (++turns === 3) during = await listingMismatches(server, [{}, { userId: 2 }, { channelId: 3 }]);
              return h.between();
            },
          }),
      };
      await expect(runRetention({ ...env(), retention: watched })).rejects.toThrow('simulated crash');
      expect(during).toEqual([]);
      expect(archiveLines(dir, 'logs').length).toBe(14);
      for (const b of await balances(server.sql)) expect(b.rebuilt).toBe(b.quota);
    });

    test('the next pass archives every removed row exactly once and keeps every balance', async () => {
      const report = await runRetention(env());
      expect(report.repaired_files.length).toBeGreaterThan(0);
      const tasks = archiveLines(dir, 'tasks');
      const logs = archiveLines(dir, 'logs');
      expect(tasks.map((l) => l.row.id as number).sort((a, b) => a - b)).toEqual(expired.tasks);
      const logIds = logs.map((l) => l.row.id as number).sort((a, b) => a - b);
      expect(logIds).toEqual(expired.logs);
      // Every file holds its own month, every row whole (the buttons as the API gives them).
      for (const { file, row } of tasks) {
        expect(file).toBe(`tasks-${new Date(row.submit_time as number).toISOString().slice(0, 7)}.jsonl.gz`);
        expect(row.buttons).toBe(`[{"customId":"x${(row.mj_id as string).slice(2)}"}]`);
        expect(row.prompt).toEndWith('é ✓');
      }
      for (const { file, row } of logs)
        expect(file).toBe(`logs-${new Date(row.created_time as number).toISOString().slice(0, 7)}.jsonl.gz`);
      const left = await server.sql<{ id: number }>(`SELECT id FROM tasks WHERE submit_time < ${CUTOFF}`);
      expect(left.map((r) => r.id).every((id) => expired.unfinished.includes(id))).toBe(true);
      const still = await server.sql<{ n: number }>(`SELECT count(*) AS n FROM tasks WHERE progress <> '100%'`);
      expect(Number(still[0]!.n)).toBe(expired.unfinished.length);
      expect(
        (await server.sql<{ n: number }>(`SELECT count(*) AS n FROM logs WHERE created_time < ${CUTOFF}`))[0]!.n,
      ).toEqual(0);
      const carry = await server.sql<{ user_id: number; n: number }>(
        `SELECT user_id, count(*) AS n FROM logs WHERE type = 7 GROUP BY user_id ORDER BY user_id`,
      );
      // One carry-forward row per user and pass (two passes removed logs: the crashed one's first batch committed).
      for (const c of carry) expect(Number(c.n)).toBeLessThanOrEqual(2);
      for (const b of await balances(server.sql)) expect(b.rebuilt).toBe(b.quota);
    });

    test('every listing total and page equals the naive reference after the pass', async () => {
      const filters: TaskFilter[] = [{}];
      for (const userId of [1, 2, 3, 4]) filters.push({ userId });
      for (const channelId of [1, 2, 3]) filters.push({ channelId }, { channelId, userId: 2 });
      for (const [a, b] of [
        [120, 0],
        [45, 20],
        [31, 29],
        [90, 60],
      ] as const) {
        filters.push({ start: NOW - a * DAY, end: NOW - b * DAY }, { userId: 3, start: NOW - a * DAY });
        filters.push({ channelId: 2, end: NOW - b * DAY - 12_345 });
      }
      expect(await listingMismatches(server, filters)).toEqual([]);
    });

    test('a rerun removes nothing and adds no archive line; the daily schedule runs on a due leader only', async () => {
      const before = archiveLines(dir, 'tasks').length + archiveLines(dir, 'logs').length;
      const again = await root().admin.retention.run.mutate();
      expect(again.tasks.removed + again.logs.removed).toBe(0);
      expect(again.repaired_files).toEqual([]);
      expect(archiveLines(dir, 'tasks').length + archiveLines(dir, 'logs').length).toBe(before);
      // The last pass ended just now: the leader's look does nothing; a day later it runs.
      const { retention } = server.work;
      const last = (await server.deps.taskStore.retention.state()).lastPass;
      // A pass cut short (shutdown) is not the day's pass.
      clock.advance(1000);
      await runRetention({ ...env(), stopping: () => true });
      expect((await server.deps.taskStore.retention.state()).lastPass).toBe(last);
      retention.maybeRun();
      expect(await retention.running()).toBeNull();
      clock.advance(DAY + 1);
      retention.maybeRun();
      const report = await retention.running();
      expect(report?.tasks.cutoff).toBe(clock.now() - 30 * DAY);
      expect((await server.deps.taskStore.retention.state()).lastPass).toBeGreaterThan(last ?? 0);
    });
  });
}
