import { sqliteInThreadListing } from '../../src/backend.ts';
import type { TaskRow } from '../../src/contract/rows.ts';
import type { ChargeInput, SyncFieldValues, TaskStore } from '../../src/contract/tasks.ts';
import { type DB, openDatabase } from '../../src/db/client.ts';
import { openPgDatabase, type PgDB } from '../../src/db/pg/client.ts';
import { createPgFeedReads } from '../../src/db/pg/task-reads.ts';
import { createPgTaskStore } from '../../src/db/pg/task-store.ts';
import { createSqliteFeedReads } from '../../src/db/sqlite/feed-reads.ts';
import { createSqliteTaskStore } from '../../src/db/sqlite/task-store.ts';
import { renderListing } from '../../src/domain/listing-render.ts';
import { tempDb } from '../helpers/db.ts';
import { tempPg } from '../helpers/pg.ts';

/**
 * One backend of the TaskStore scenarios (tests/integration/pg-task-store.test.ts): three stores
 * over one database (three connections on SQLite, three PgDB pools on PostgreSQL, as replicas),
 * and the few raw statements a scenario needs for its fixtures and checks, written once in SQL
 * both dialects read (`$1` placeholders become SQLite's `?1`).
 */
export interface Backend {
  name: 'sqlite' | 'postgres';
  stores: TaskStore[];
  /** The feed reads (fingerprint, row, replay), awaited on both. */
  feed: {
    fingerprints(ids: readonly number[]): Promise<Array<{ id: number; user_id: number; fp: string }>>;
    row(id: number): Promise<TaskRow | null>;
    replay(userId: number | null, windowStart: number, since: number, limit: number): Promise<TaskRow[]>;
  };
  all<T>(text: string, ...params: unknown[]): Promise<T[]>;
  close(): Promise<void>;
}

export const NOW = 1_712_016_000_000;

export async function sqliteBackend(): Promise<Backend> {
  const t = tempDb();
  const conns: DB[] = [t.db, openDatabase(t.path), openDatabase(t.path)];
  const c = t.db.$client;
  const reads = createSqliteFeedReads(t.db);
  const all = async <T>(text: string, ...params: unknown[]) =>
    c.query(text.replace(/\$(\d+)/g, '?$1')).all(...(params as never[])) as T[];
  return {
    name: 'sqlite',
    stores: conns.map((db) => createSqliteTaskStore(db, sqliteInThreadListing(db))),
    // The in-process feed's reads (synchronous on SQLite), awaited like PostgreSQL's.
    feed: {
      fingerprints: async (ids) => reads.fingerprints(ids),
      row: async (id) => reads.row(id),
      replay: async (userId, windowStart, since, limit) => reads.replay(userId, windowStart, since, limit),
    },
    all,
    close: async () => {
      for (const db of conns.slice(1)) db.$client.close();
      t.cleanup();
    },
  };
}

export async function pgBackend(): Promise<Backend> {
  const t = await tempPg({ poolSize: 6 });
  const replicas: PgDB[] = [
    t.db,
    await openPgDatabase(t.url, { poolSize: 4 }),
    await openPgDatabase(t.url, { poolSize: 4 }),
  ];
  const sql = t.db.$client;
  return {
    name: 'postgres',
    // Lease times in the caller's clock, so a scenario pins exact instants as on SQLite.
    stores: replicas.map((db) => {
      const store: TaskStore = createPgTaskStore(db, renderListing, { lease: { clock: 'caller' } });
      return store;
    }),
    feed: createPgFeedReads(t.db),
    all: async <T>(text: string, ...params: unknown[]) => [...(await sql.unsafe(text, params as never[]))] as T[],
    close: async () => {
      for (const db of replicas.slice(1)) await db.$client.end({ timeout: 1 });
      await t.cleanup();
    },
  };
}

let seq = 0;

/** A user whose starting quota is a logged system change (type 4), so the balance identity covers it. */
export async function makeUser(b: Backend, quota: number): Promise<number> {
  const name = `u${++seq}_${Math.random().toString(36).slice(2, 8)}`;
  const [u] = await b.all<{ id: number }>(
    'INSERT INTO users (username, quota, created_time) VALUES ($1, $2, $3) RETURNING id',
    name,
    quota,
    NOW,
  );
  await b.all(
    'INSERT INTO logs (user_id, type, content, quota, created_time) VALUES ($1, 4, $2, $3, $4)',
    u!.id,
    'start',
    quota,
    NOW,
  );
  return u!.id;
}

export async function makeToken(
  b: Backend,
  userId: number,
  remain: number,
  unlimited: boolean,
  secret = '',
): Promise<number> {
  const [k] = await b.all<{ id: number }>(
    'INSERT INTO tokens (user_id, key, remain_quota, unlimited_quota, webhook_secret, created_time) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id',
    userId,
    `k${++seq}_${Math.random().toString(36).slice(2, 8)}`,
    remain,
    unlimited,
    secret,
    NOW,
  );
  return k!.id;
}

export async function makeChannel(b: Backend): Promise<number> {
  const [c] = await b.all<{ id: number }>(
    "INSERT INTO channels (name, base_url, created_time) VALUES ($1, 'http://127.0.0.1:1', $2) RETURNING id",
    `c${++seq}`,
    NOW,
  );
  return c!.id;
}

/** Money columns of a user, its token and a channel, and its log counts. */
export async function moneyState(b: Backend, f: { userId: number; tokenId: number; channelId: number }) {
  const [row] = await b.all<Record<string, number>>(
    `SELECT
    (SELECT quota FROM users WHERE id = $1) AS quota,
    (SELECT used_quota FROM users WHERE id = $1) AS used,
    (SELECT remain_quota FROM tokens WHERE id = $2) AS remain,
    (SELECT used_quota FROM tokens WHERE id = $2) AS token_used,
    (SELECT used_quota FROM channels WHERE id = $3) AS channel_used,
    (SELECT count(*) FROM tasks WHERE user_id = $1) AS tasks,
    (SELECT count(*) FROM logs WHERE user_id = $1 AND type = 2) AS consumed,
    (SELECT count(*) FROM logs WHERE user_id = $1 AND type = 6) AS refunds`,
    f.userId,
    f.tokenId,
    f.channelId,
  );
  return Object.fromEntries(Object.entries(row!).map(([k, v]) => [k, Number(v)]));
}

/** Per user: quota, and Σ type-4 − Σ consumed + Σ refunded from the logs alone. */
export async function balances(b: Backend): Promise<Array<{ id: number; quota: number; fromLogs: number }>> {
  const rows = await b.all<{ id: number; quota: number; from_logs: number }>(`SELECT u.id, u.quota,
      (SELECT coalesce(sum(CASE type WHEN 4 THEN quota WHEN 2 THEN -quota WHEN 6 THEN quota ELSE 0 END), 0) FROM logs WHERE user_id = u.id) AS from_logs
    FROM users u ORDER BY u.id`);
  return rows.map((r) => ({ id: Number(r.id), quota: Number(r.quota), fromLogs: Number(r.from_logs) }));
}

/** Scenario helpers: a funded user with a token and a channel, charges, rows and deliveries. */
export const PRICE = 100;
export const payload = (t: TaskRow) =>
  JSON.stringify({ id: t.id, status: t.status, progress: t.progress, failReason: t.failReason });

export interface Fx {
  userId: number;
  tokenId: number;
  channelId: number;
}

export async function fx(
  b: Backend,
  o: { quota: number; remain?: number; unlimited?: boolean; secret?: string },
): Promise<Fx> {
  const userId = await makeUser(b, o.quota);
  const tokenId = await makeToken(b, userId, o.remain ?? 0, o.unlimited ?? true, o.secret ?? '');
  return { userId, tokenId, channelId: await makeChannel(b) };
}

export function chargeOf(
  f: Fx,
  i: number,
  o: { unlimited?: boolean; hookUrl?: string; quota?: number; base?: number } = {},
): ChargeInput {
  const at = (o.base ?? NOW) + i;
  return {
    userId: f.userId,
    tokenId: f.tokenId,
    unlimitedToken: o.unlimited ?? true,
    channelId: f.channelId,
    modelName: 'mj_imagine',
    quota: o.quota ?? PRICE,
    now: at,
    hookUrl: o.hookUrl ?? null,
    task: {
      action: 'IMAGINE',
      mjId: '',
      prompt: `p${i}`,
      state: '',
      submitTime: at,
      progress: '0%',
      status: '',
      updatedTime: at,
    },
  };
}

export async function charged(s: TaskStore, f: Fx, i: number, o: Parameters<typeof chargeOf>[2] = {}): Promise<number> {
  const id = await s.money.chargeAndRecord(chargeOf(f, i, o));
  if (id === 'quota_not_enough') throw new Error('fixture charge refused');
  return id;
}

export const row = (b: Backend, id: number) => b.feed.row(id);
export const deliveries = (b: Backend, taskId: number) =>
  b.all<{ status: string; payload: string; attempts: number }>(
    'SELECT status, payload, attempts FROM webhook_deliveries WHERE task_id = $1 ORDER BY id',
    taskId,
  );

export const syncFields = (over: Partial<SyncFieldValues>): SyncFieldValues => ({
  progress: '50%',
  status: 'IN_PROGRESS',
  promptEn: '',
  state: '',
  startTime: NOW,
  finishTime: 0,
  imageUrl: '',
  videoUrl: '',
  videoUrls: '',
  failReason: '',
  buttons: '',
  properties: '',
  ...over,
});
