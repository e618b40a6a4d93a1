import { afterAll, describe, expect, test } from 'bun:test';
import { openPgDatabase, redactUrl } from '../../src/db/pg/client.ts';
import { type TempPg, tempPg } from '../helpers/pg.ts';

/** The PostgreSQL schema, its migrations and the trigger-kept counters, on a real server. */
describe('PostgreSQL schema and migrations', () => {
  const opened: TempPg[] = [];
  afterAll(async () => {
    for (const t of opened) await t.cleanup();
  });

  test('replicas starting together migrate once (advisory lock) and reopen idempotently', async () => {
    const t = await tempPg();
    opened.push(t);
    const others = await Promise.all([1, 2, 3].map(() => openPgDatabase(t.url, { poolSize: 1 })));
    const applied = await t.db.$client`SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations`;
    const files = [...new Bun.Glob('*.sql').scanSync(`${import.meta.dir}/../../drizzle/pg`)];
    expect(applied[0]!.n).toBe(files.length);
    for (const o of others) await o.$client.end();
  });

  test('the §4 tables and column names exist with the listing indexes', async () => {
    const t = await tempPg();
    opened.push(t);
    const cols = await t.db.$client<{ table_name: string; column_name: string }[]>`
      SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public'`;
    const byTable = new Map<string, string[]>();
    for (const c of cols) byTable.set(c.table_name, [...(byTable.get(c.table_name) ?? []), c.column_name]);
    expect(byTable.get('tasks')).toEqual(
      expect.arrayContaining([
        'id',
        'user_id',
        'token_id',
        'channel_id',
        'code',
        'action',
        'mj_id',
        'prompt',
        'prompt_en',
        'description',
        'state',
        'submit_time',
        'start_time',
        'finish_time',
        'image_url',
        'video_url',
        'video_urls',
        'status',
        'progress',
        'fail_reason',
        'quota',
        'buttons',
        'properties',
        'updated_time',
      ]),
    );
    expect(byTable.get('logs')).toEqual(expect.arrayContaining(['mj_id', 'task_id', 'quota', 'type']));
    expect(byTable.get('tokens')).toEqual(expect.arrayContaining(['webhook_secret', 'rate_limit_per_minute']));
    for (const table of [
      'task_webhooks',
      'webhook_deliveries',
      'rate_limit_windows',
      'leases',
      'task_time_buckets',
      'task_id_blocks',
    ]) {
      expect(byTable.has(table)).toBe(true);
    }
    const idx = await t.db.$client<{ indexname: string }[]>`SELECT indexname FROM pg_indexes WHERE tablename = 'tasks'`;
    expect(idx.map((i) => i.indexname)).toEqual(
      expect.arrayContaining([
        'tasks_user_id_id_idx',
        'tasks_user_id_mj_id_idx',
        'tasks_user_id_submit_time_idx',
        'tasks_channel_id_id_idx',
        'tasks_mj_id_idx',
        'tasks_submit_time_idx',
        'tasks_unfinished_idx',
      ]),
    );
  });

  test('counters stay exact under plain SQL inserts, deletes, moves and truncate, from concurrent sessions', async () => {
    const t = await tempPg({ poolSize: 8 });
    opened.push(t);
    const sql = t.db.$client;
    // Eight sessions insert at once: the slots keep them from queueing on one row, the sums stay exact.
    await Promise.all(
      Array.from(
        { length: 8 },
        (_, k) => sql`
      INSERT INTO tasks (user_id, channel_id, submit_time) SELECT ${(k % 3) + 1}, g % 4, g FROM generate_series(1, 2500) g`,
      ),
    );
    await sql`DELETE FROM tasks WHERE id % 7 = 0`;
    await sql`UPDATE tasks SET user_id = 9 WHERE id % 11 = 0`;
    await sql`UPDATE tasks SET channel_id = 5 WHERE id % 13 = 0`;
    const counted = await sql<{ scope: string; scope_id: number; n: number }[]>`
      SELECT scope, scope_id, sum(count)::int AS n FROM task_counters GROUP BY 1, 2 HAVING sum(count) <> 0 ORDER BY 1, 2`;
    const truth = await sql<{ scope: string; scope_id: number; n: number }[]>`
      SELECT 'all' AS scope, 0 AS scope_id, count(*)::int AS n FROM tasks
      UNION ALL SELECT 'channel', channel_id, count(*)::int FROM tasks GROUP BY channel_id
      UNION ALL SELECT 'user', user_id, count(*)::int FROM tasks GROUP BY user_id ORDER BY 1, 2`;
    expect([...counted]).toEqual([...truth]);
    expect(truth[0]!.n).toBe(20000 - Math.floor(20000 / 7));
    await sql`TRUNCATE tasks`;
    const left = await sql`SELECT count(*)::int AS n FROM task_counters`;
    expect(left[0]!.n).toBe(0);
  });

  test('keys that existed before webhooks get a secret of their own', async () => {
    const t = await tempPg();
    opened.push(t);
    const sql = t.db.$client;
    await sql`INSERT INTO users (username, created_time) VALUES ('old', 1)`;
    await sql`INSERT INTO tokens (user_id, key, created_time) SELECT 1, 'k' || g, 1 FROM generate_series(1, 3) g`;
    const backfill = await Bun.file(`${import.meta.dir}/../../drizzle/pg/0005_webhook_secret_backfill.sql`).text();
    await sql.unsafe(backfill);
    const rows = await sql<{ webhook_secret: string }[]>`SELECT webhook_secret FROM tokens ORDER BY id`;
    for (const r of rows) expect(r.webhook_secret).toMatch(/^whsec_[0-9a-f]{32}$/);
    expect(new Set(rows.map((r) => r.webhook_secret)).size).toBe(3);
  });

  test('an unusable URL is one message naming DATABASE_URL, never the password', async () => {
    const err = await openPgDatabase('postgres://u:hunter2secret@127.0.0.1:1/x', {
      poolSize: 1,
      connectTimeoutS: 2,
    }).then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toContain('DATABASE_URL');
    expect(err?.message).not.toContain('hunter2secret');
    expect(redactUrl('postgres://u:pw@h/db')).toBe('postgres://u:***@h/db');
    const bad = await openPgDatabase('mysql://x', { poolSize: 1 }).then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(bad?.message).toContain('DATABASE_URL must start with postgres://');
  });
});
