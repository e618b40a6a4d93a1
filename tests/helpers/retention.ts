import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { SIGNED_LOG_QUOTA_SQL } from '../../src/contract/constants.ts';
import type { TaskFilter } from '../../src/lib/paging.ts';
import type { TestServer } from './server.ts';

/** Seeding and reading back for the retention tests (SPEC §17), on either database. */

export const DAY = 86_400_000;

export function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Sql = TestServer['sql'];

/**
 * Users 2..4 (root is 1), `tasks` tasks over the last 120 days (finished and not, three channels),
 * `logs` log rows of every type, each user's quota set to what the logs rebuild.
 */
export async function seedHistory(sql: Sql, now: number, counts: { tasks: number; logs: number }, seed = 7) {
  const rand = mulberry32(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  for (const id of [2, 3, 4]) {
    await sql(
      `INSERT INTO users (id, username, display_name, role, status, quota, created_time) VALUES ($1, $2, $2, 1, 1, 0, $3)`,
      id,
      `ret${id}`,
      now - 200 * DAY,
    );
  }
  const states = [
    ['SUCCESS', '100%'],
    ['SUCCESS', '100%'],
    ['FAILURE', '100%'],
    ['IN_PROGRESS', '50%'],
    ['SUBMITTED', '0%'],
  ] as const;
  for (let done = 0; done < counts.tasks; done += 100) {
    const values: string[] = [];
    for (let i = done; i < Math.min(counts.tasks, done + 100); i++) {
      const [status, progress] = states[int(0, states.length - 1)]!;
      const time = now - int(0, 120 * DAY);
      values.push(
        `(${int(1, 4)}, ${int(1, 3)}, 'mj${i}', ${time}, '${status}', '${progress}', ${int(0, 9) * 1000}, 'IMAGINE', 'prompt ${i} é ✓', '[{"customId":"x${i}"}]')`,
      );
    }
    await sql(
      `INSERT INTO tasks (user_id, channel_id, mj_id, submit_time, status, progress, quota, action, prompt, buttons) VALUES ${values.join(', ')}`,
    );
  }
  const logValues: string[] = [];
  for (const user of [1, 2, 3, 4]) logValues.push(`(${user}, 4, 'grant', 100000000, ${now - 130 * DAY})`);
  for (let i = 0; i < counts.logs; i++) {
    const type = [2, 2, 2, 4, 6, 5][int(0, 5)]!;
    const quota = type === 4 ? int(-500, 5000) : int(1, 5000);
    logValues.push(`(${int(1, 4)}, ${type}, 'row ${i}', ${quota}, ${now - int(0, 120 * DAY)})`);
  }
  for (let i = 0; i < logValues.length; i += 200) {
    await sql(
      `INSERT INTO logs (user_id, type, content, quota, created_time) VALUES ${logValues.slice(i, i + 200).join(', ')}`,
    );
  }
  await sql(
    `UPDATE users SET quota = (SELECT CAST(coalesce(sum(${SIGNED_LOG_QUOTA_SQL}), 0) AS BIGINT) FROM logs WHERE logs.user_id = users.id)`,
  );
}

/** Each user's quota and the balance the logs alone rebuild. */
export async function balances(sql: Sql): Promise<Array<{ id: number; quota: number; rebuilt: number }>> {
  return sql(
    `SELECT id, quota, (SELECT CAST(coalesce(sum(${SIGNED_LOG_QUOTA_SQL}), 0) AS BIGINT) FROM logs WHERE logs.user_id = users.id) AS rebuilt
     FROM users ORDER BY id`,
  );
}

/** Every line of the archive files of `table`, parsed, with the file each came from. */
export function archiveLines(dir: string, table: string): Array<{ file: string; row: Record<string, unknown> }> {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.startsWith(`${table}-`) && n.endsWith('.jsonl.gz'));
  } catch {
    return [];
  }
  return names.flatMap((file) =>
    // node:zlib reads every member of a multi-member gzip; Bun.gunzipSync stops after the first.
    gunzipSync(readFileSync(join(dir, file)))
      .toString('utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => ({ file, row: JSON.parse(l) as Record<string, unknown> })),
  );
}

/** A filter as SQL over `tasks`, for the naive reference. */
function whereOf(f: TaskFilter): { where: string; params: unknown[] } {
  const parts: string[] = [];
  const params: unknown[] = [];
  const add = (cond: string, v: unknown) => {
    params.push(v);
    parts.push(cond.replace('?', `$${params.length}`));
  };
  if (f.userId !== undefined) add('user_id = ?', f.userId);
  if (f.channelId !== undefined) add('channel_id = ?', f.channelId);
  if (f.start !== undefined) add('submit_time >= ?', f.start);
  if (f.end !== undefined) add('submit_time <= ?', f.end);
  return { where: parts.length ? `WHERE ${parts.join(' AND ')}` : '', params };
}

/** The listing's total and pages (first, middle, last, past the end) against COUNT(*) and ORDER BY id DESC. */
export async function listingMismatches(server: TestServer, filters: TaskFilter[], pageSize = 7): Promise<string[]> {
  const bad: string[] = [];
  for (const f of filters) {
    const { where, params } = whereOf(f);
    const [{ n }] = (await server.sql<{ n: number }>(`SELECT count(*) AS n FROM tasks ${where}`, ...params)) as [
      { n: number },
    ];
    const last = Math.max(1, Math.ceil(Number(n) / pageSize));
    for (const p of new Set([1, 2, Math.ceil(last / 2), last - 1, last, last + 1].filter((x) => x >= 1))) {
      const page = await server.deps.taskStore.tasks.list(f, { p, page_size: pageSize });
      const ref = await server.sql<{ id: number }>(
        `SELECT id FROM tasks ${where} ORDER BY id DESC LIMIT ${pageSize} OFFSET ${(p - 1) * pageSize}`,
        ...params,
      );
      if (page.total !== Number(n)) bad.push(`${JSON.stringify(f)} total ${page.total} ≠ ${n}`);
      const ids = page.items.map((t) => t.id).join(',');
      if (ids !== ref.map((r) => r.id).join(',')) bad.push(`${JSON.stringify(f)} page ${p}: ${ids}`);
    }
  }
  return bad;
}
