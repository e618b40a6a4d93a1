import { afterAll, describe, expect, test } from 'bun:test';
import { eq } from 'drizzle-orm';
import postgres from 'postgres';
import type { ManagementStore, Store } from '../../src/contract/index.ts';
import { type DB, openDatabase } from '../../src/db/client.ts';
import { openPgDatabase, type PgDB } from '../../src/db/pg/client.ts';
import { createPgManagementStore } from '../../src/db/pg/management-store.ts';
import { createPgStore } from '../../src/db/pg/store.ts';
import { logs, tasks, webhookDeliveries } from '../../src/db/schema/index.ts';
import { createSqliteManagementStore } from '../../src/db/sqlite/management.ts';
import { pageOf } from '../../src/lib/paging.ts';
import { tempDb } from '../helpers/db.ts';
import { managementStoreSuite } from '../helpers/management-store-suite.ts';
import { pgServerUrl } from '../helpers/pg.ts';

/**
 * The management store's two adapters side by side: one table of scenarios, each run on a fresh
 * SQLite file and on a fresh PostgreSQL database with the same expectations. Where a scenario
 * races, the racers are separate instances over one database (as replicas or processes are).
 */

interface Fixture {
  /** Rows the store does not write itself (tasks, deliveries, consume logs), written raw. */
  task(channelId: number, progress: string, imageUrl?: string): Promise<number>;
  taskImageUrl(id: number): Promise<string>;
  delivery(d: { taskId: number; userId: number; status: string; createdTime: number }): Promise<void>;
  log(l: { userId: number; type: number; quota: number; createdTime: number }): Promise<void>;
}

interface Backend extends Fixture {
  store: ManagementStore;
  /** Another instance over the same database, closed with the backend. */
  replica(): Promise<ManagementStore>;
  cleanup(): Promise<void>;
}

function sqliteFixture(db: DB): Fixture {
  return {
    async task(channelId, progress, imageUrl = '') {
      return db.insert(tasks).values({ userId: 1, channelId, progress, imageUrl, submitTime: 1 }).returning().get().id;
    },
    async taskImageUrl(id) {
      return db.select().from(tasks).where(eq(tasks.id, id)).get()!.imageUrl;
    },
    async delivery(d) {
      db.insert(webhookDeliveries)
        .values({ ...d, tokenId: 1, url: 'http://hook.test/x', payload: '{"big":true}' })
        .run();
    },
    async log(l) {
      db.insert(logs)
        .values({ ...l, content: 'c' })
        .run();
    },
  };
}

function pgFixture(db: PgDB): Fixture {
  const sql = db.$client;
  return {
    async task(channelId, progress, imageUrl = '') {
      const [row] = await sql`INSERT INTO tasks (user_id, channel_id, progress, image_url, submit_time)
        VALUES (1, ${channelId}, ${progress}, ${imageUrl}, 1) RETURNING id`;
      return row!.id as number;
    },
    async taskImageUrl(id) {
      const [row] = await sql`SELECT image_url FROM tasks WHERE id = ${id}`;
      return row!.image_url as string;
    },
    async delivery(d) {
      await sql`INSERT INTO webhook_deliveries (task_id, user_id, token_id, url, payload, status, created_time)
        VALUES (${d.taskId}, ${d.userId}, 1, 'http://hook.test/x', '{"big":true}', ${d.status}, ${d.createdTime})`;
    },
    async log(l) {
      await sql`INSERT INTO logs (user_id, type, content, quota, created_time) VALUES (${l.userId}, ${l.type}, 'c', ${l.quota}, ${l.createdTime})`;
    },
  };
}

async function sqliteBackend(): Promise<Backend> {
  const t = tempDb();
  const others: DB[] = [];
  // Type-level: fails `bun run typecheck` if an adapter drifts from the interface.
  const store: ManagementStore = createSqliteManagementStore(t.db);
  return {
    ...sqliteFixture(t.db),
    store,
    async replica() {
      const db = openDatabase(t.path);
      others.push(db);
      return createSqliteManagementStore(db);
    },
    async cleanup() {
      for (const db of others) db.$client.close();
      t.cleanup();
    },
  };
}

/**
 * One database for the file, emptied before each scenario (a database per scenario costs a
 * migration run each). Its default collation is ICU English, as on many installations, unlike
 * the bare test cluster's C.UTF-8: orderings that rely on the default collation show up here.
 */
let sharedPg: Promise<{ url: string; db: PgDB; drop: () => Promise<void> }> | null = null;

function openSharedPg() {
  sharedPg ??= (async () => {
    const server = await pgServerUrl();
    const name = `mjgw_icu_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
    const admin = postgres(server, { max: 1, onnotice: () => {} });
    await admin.unsafe(
      `CREATE DATABASE ${name} TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C.UTF-8' LOCALE_PROVIDER icu ICU_LOCALE 'en'`,
    );
    const url = server.replace(/\/[^/]*$/, `/${name}`);
    const db = await openPgDatabase(url, { poolSize: 3 });
    return {
      url,
      db,
      drop: async () => {
        await db.$client.end({ timeout: 1 });
        await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        await admin.end({ timeout: 1 });
      },
    };
  })();
  return sharedPg;
}

afterAll(async () => {
  if (sharedPg) await (await sharedPg).drop();
});

async function freshPg(): Promise<{ url: string; db: PgDB }> {
  const s = await openSharedPg();
  // The tasks table's TRUNCATE triggers reset its counters; identities restart so ids compare across backends.
  await s.db
    .$client`TRUNCATE users, tokens, channels, options, logs, webhook_deliveries, task_webhooks, tasks RESTART IDENTITY CASCADE`;
  return s;
}

async function pgBackend(): Promise<Backend> {
  const { url, db } = await freshPg();
  const others: PgDB[] = [];
  const store: ManagementStore = createPgManagementStore(db);
  return {
    ...pgFixture(db),
    store,
    async replica() {
      const other = await openPgDatabase(url, { poolSize: 2 });
      others.push(other);
      return createPgManagementStore(other);
    },
    async cleanup() {
      await Promise.all(others.map((o) => o.$client.end({ timeout: 1 })));
    },
  };
}

const user = (username: string, now = 10) => ({
  username,
  displayName: username,
  role: 1,
  status: 1,
  accessToken: `${username}-token-0123456789`,
  createdTime: now,
});
const byAdmin = (quota: number, now = 20) => ({ quota, who: 'by admin 1 (root)', now });
const tokenOf = (userId: number, key: string) => ({
  userId,
  name: key,
  key,
  status: 1,
  remainQuota: 50,
  unlimitedQuota: false,
  expiredTime: -1,
  rateLimitPerMinute: 0,
  createdTime: 3,
  webhookSecret: `whsec_${key}`,
});
const channelOf = (name: string, status = 1) => ({
  name,
  baseUrl: `http://${name}.test:8080`,
  key: `${name}-key`,
  status,
  priority: 0,
  weight: 1,
  createdTime: 1,
});

type Scenario = [name: string, run: (b: Backend) => Promise<void>];

const scenarios: Scenario[] = [
  [
    'users: three instances racing to bootstrap make one root, and the next user is id 2',
    async (b) => {
      const racers = [b.store, await b.replica(), await b.replica()];
      const won = await Promise.all(racers.map((s, i) => s.users.createRootIfEmpty(`root-token-${i}-0123456789`, 1)));
      expect(won.filter(Boolean)).toHaveLength(1);
      expect(await b.store.users.list(10, 0)).toMatchObject({
        total: 1,
        rows: [{ id: 1, username: 'root', role: 100, quota: 0 }],
      });
      expect((await b.store.users.create(user('ann'), null))?.id).toBe(2);
    },
  ],
  [
    'users: a name is taken once even when two instances create it together',
    async (b) => {
      await b.store.users.createRootIfEmpty('root-token-0123456789', 1);
      const other = await b.replica();
      const made = await Promise.all([
        b.store.users.create(user('bob'), byAdmin(10)),
        other.users.create({ ...user('bob'), accessToken: 'other-0123456789' }, null),
      ]);
      expect(made.filter((u) => u !== null)).toHaveLength(1);
      expect(await b.store.users.create(user('bob'), null)).toBeNull();
      expect((await b.store.users.list(10, 0)).total).toBe(2);
    },
  ],
  [
    'users: update with a quota change logs the signed delta; paging newest first',
    async (b) => {
      await b.store.users.createRootIfEmpty('root-token-0123456789', 1);
      const ann = (await b.store.users.create(user('ann'), byAdmin(700, 11)))!;
      expect(await b.store.users.update(ann.id, { role: 10 }, byAdmin(250, 12))).toMatchObject({
        role: 10,
        quota: 250,
        displayName: 'ann',
      });
      expect(await b.store.users.update(ann.id, {}, byAdmin(900, 13))).toMatchObject({ quota: 900 });
      expect(await b.store.users.update(ann.id, {}, null)).toMatchObject({ id: ann.id, quota: 900 });
      expect(await b.store.users.update(424_242, {}, byAdmin(5))).toBeNull();
      const { rows } = await b.store.logs.list({ userId: ann.id, type: 4 }, 10, 0);
      expect(rows.map((r) => [r.quota, r.content, r.createdTime])).toEqual([
        [650, 'quota set to 900 (+650) by admin 1 (root)', 13],
        [-450, 'quota set to 250 (-450) by admin 1 (root)', 12],
        [700, 'quota set to 700 (+700) by admin 1 (root)', 11],
      ]);
      // A taken name draws no id: the ids below stay consecutive on both backends.
      expect(await b.store.users.create(user('ann'), byAdmin(5))).toBeNull();
      for (const n of ['c1', 'c2', 'c3', 'c4']) await b.store.users.create(user(n), null);
      const { pageSize, offset } = pageOf({ p: 2, page_size: 2 });
      const page = await b.store.users.list(pageSize, offset);
      expect({ total: page.total, names: page.rows.map((r) => r.username) }).toEqual({ total: 6, names: ['c2', 'c1'] });
      expect((await b.store.users.list(10, 0)).rows.map((r) => r.id)).toEqual([6, 5, 4, 3, 2, 1]);
      // A page far past the end (offsets beyond 32 bits) is empty, with the total.
      expect(await b.store.users.list(100, 2 ** 40)).toEqual({ rows: [], total: 6 });
      expect(await b.store.logs.list({}, 100, 2 ** 40)).toEqual({ rows: [], total: 3 });
    },
  ],
  [
    'tokens: raw rows with secret, lookups, touch, scoped update and delete, paging',
    async (b) => {
      await b.store.users.createRootIfEmpty('root-token-0123456789', 1);
      const u = (await b.store.users.create(user('kim'), null))!;
      const made = [];
      for (const k of ['k1', 'k2', 'k3']) made.push(await b.store.tokens.create(tokenOf(u.id, k)));
      expect(made[0]).toEqual({
        ...tokenOf(u.id, 'k1'),
        id: made[0]!.id,
        usedQuota: 0,
        accessedTime: 0,
        previousWebhookSecret: null,
        webhookSecretRotatedAt: null,
      });
      expect(await b.store.tokens.byKey('k2')).toEqual(made[1]!);
      await b.store.tokens.touch(made[1]!.id, 9_000_000_000_000);
      expect((await b.store.tokens.byKey('k2'))?.accessedTime).toBe(9_000_000_000_000);
      // The relay's joined read (PostgreSQL has it): the very rows byKey and users.byId give.
      if (b.store.tokens.byKeyWithUser) {
        expect(await b.store.tokens.byKeyWithUser('k2')).toEqual({
          token: (await b.store.tokens.byKey('k2'))!,
          user: (await b.store.users.byId(u.id))!,
        });
        expect(await b.store.tokens.byKeyWithUser('no-such-key')).toBeNull();
      }
      const patch = {
        name: 'n',
        status: 2,
        remainQuota: 7,
        unlimitedQuota: true,
        expiredTime: 99,
        rateLimitPerMinute: 5,
        webhookSecret: 'whsec_new',
      };
      expect(await b.store.tokens.update(u.id, made[0]!.id, patch)).toEqual({ ...made[0]!, ...patch });
      expect(await b.store.tokens.update(u.id, made[0]!.id, { unlimitedQuota: false })).toMatchObject({
        unlimitedQuota: false,
        name: 'n',
      });
      expect(await b.store.tokens.update(1, made[0]!.id, {})).toBeNull();
      const page = await b.store.tokens.list(u.id, 2, 1);
      expect({ total: page.total, keys: page.rows.map((r) => r.key) }).toEqual({ total: 3, keys: ['k2', 'k1'] });
      expect(await b.store.tokens.list(1, 10, 0)).toEqual({ rows: [], total: 0 });
      expect(await b.store.tokens.delete(u.id, made[2]!.id)).toBe(true);
      expect(await b.store.tokens.byKey('k3')).toBeNull();
    },
  ],
  [
    'channels: create, update, delete, list; enabled ones; auto-disable only from enabled',
    async (b) => {
      const [a, m, c] = [
        await b.store.channels.create(channelOf('a')),
        await b.store.channels.create(channelOf('m', 2)),
        await b.store.channels.create(channelOf('c')),
      ];
      expect(a).toEqual({ ...channelOf('a'), id: a.id, usedQuota: 0 });
      expect((await b.store.channels.enabled()).map((r) => r.name)).toEqual(['a', 'c']);
      await b.store.channels.autoDisable(m.id);
      await b.store.channels.autoDisable(c.id);
      expect([(await b.store.channels.byId(m.id))?.status, (await b.store.channels.byId(c.id))?.status]).toEqual([
        2, 3,
      ]);
      expect(await b.store.channels.endpoints()).toEqual(
        [a, m, c].map((r) => ({ id: r.id, baseUrl: r.baseUrl, key: r.key })),
      );
      expect(await b.store.channels.baseUrls()).toEqual([
        'http://a.test:8080',
        'http://m.test:8080',
        'http://c.test:8080',
      ]);
      expect(await b.store.channels.update(c.id, { baseUrl: 'http://c2.test', priority: 3 })).toMatchObject({
        baseUrl: 'http://c2.test',
        priority: 3,
        status: 3,
      });
      expect(await b.store.channels.delete(a.id)).toBe(true);
      expect(await b.store.channels.byId(a.id)).toBeNull();
      const page = await b.store.channels.list(1, 1);
      expect({ total: page.total, names: page.rows.map((r) => r.name) }).toEqual({ total: 2, names: ['m'] });
    },
  ],
  [
    'options: defaults inserted once across racing instances, set, read in byte order',
    async (b) => {
      const defaults = [
        { key: 'b', value: '1' },
        { key: 'B', value: '2' },
        { key: 'a_b', value: '"x"' },
        { key: 'aB', value: 'true' },
      ];
      const racers = [b.store, await b.replica(), await b.replica()];
      await Promise.all(racers.map((s) => s.options.insertMissing(defaults)));
      await b.store.options.upsert({ key: 'b', value: '5' });
      await b.store.options.upsert({ key: 'new', value: 'null' });
      await b.store.options.insertMissing([{ key: 'b', value: '9' }]);
      expect(await (await b.replica()).options.all()).toEqual([
        { key: 'B', value: '2' },
        { key: 'aB', value: 'true' },
        { key: 'a_b', value: '"x"' },
        { key: 'b', value: '5' },
        { key: 'new', value: 'null' },
      ]);
    },
  ],
  [
    'logs: filtered by type and user, newest first, paged with exact totals',
    async (b) => {
      for (let i = 1; i <= 6; i++)
        await b.log({ userId: i % 2 ? 7 : 8, type: i <= 3 ? 2 : 6, quota: i, createdTime: 100 + i });
      const quotas = async (f: { type?: number; userId?: number }, limit = 10, offset = 0) => {
        const p = await b.store.logs.list(f, limit, offset);
        return [p.total, p.rows.map((r) => r.quota)];
      };
      expect(await quotas({})).toEqual([6, [6, 5, 4, 3, 2, 1]]);
      expect(await quotas({ type: 2 })).toEqual([3, [3, 2, 1]]);
      expect(await quotas({ userId: 7 })).toEqual([3, [5, 3, 1]]);
      expect(await quotas({ userId: 8, type: 6 })).toEqual([2, [6, 4]]);
      expect(await quotas({}, 2, 2)).toEqual([6, [4, 3]]);
      expect(await quotas({ type: 4 })).toEqual([0, []]);
    },
  ],
  [
    'webhook deliveries: one user or all, newest first, without the payload',
    async (b) => {
      for (let i = 1; i <= 4; i++)
        await b.delivery({
          taskId: i,
          userId: i <= 3 ? 7 : 8,
          status: i === 2 ? 'delivered' : 'pending',
          createdTime: 50 + i,
        });
      const all = await b.store.deliveryLog.list(null, 2, 0);
      expect(all.total).toBe(4);
      expect(all.rows[0]).toEqual({
        id: all.rows[0]!.id,
        taskId: 4,
        mjId: '',
        userId: 8,
        url: 'http://hook.test/x',
        status: 'pending',
        attempts: 0,
        lastError: '',
        nextAttemptAt: 0,
        createdTime: 54,
        deliveredTime: 0,
      });
      const mine = await b.store.deliveryLog.list(7, 2, 1);
      expect({ total: mine.total, tasks: mine.rows.map((r) => [r.taskId, r.status]) }).toEqual({
        total: 3,
        tasks: [
          [2, 'delivered'],
          [1, 'pending'],
        ],
      });
    },
  ],
  [
    'operator stats: unfinished tasks by channel',
    async (b) => {
      for (const [channelId, progress] of [
        [3, '0%'],
        [1, '50%'],
        [3, '100%'],
        [3, '10%'],
        [2, '100%'],
      ] as const)
        await b.task(channelId, progress);
      expect(await b.store.operatorStats.unfinishedByChannel()).toEqual([
        { channelId: 1, count: 1 },
        { channelId: 3, count: 2 },
      ]);
    },
  ],
  [
    'demo: racing instances make one channel, one key and one grant; a move carries media links',
    async (b) => {
      await b.store.users.createRootIfEmpty('root-token-0123456789', 1);
      const input = (i: number, baseUrl = 'http://127.0.0.1:4001') => ({
        name: 'demo',
        baseUrl,
        channelKey: 'k',
        newApiKey: `demo-key-${i}`,
        newWebhookSecret: `whsec_${i}`,
        rootQuota: 1000,
        grantWhy: 'demo starting quota',
        now: 5,
      });
      const racers = [b.store, await b.replica(), await b.replica()];
      const runs = await Promise.all(racers.map((s, i) => s.demo.ensure(input(i))));
      expect(runs.filter((r) => r?.created)).toHaveLength(1);
      expect(new Set(runs.map((r) => r?.apiKey)).size).toBe(1);
      expect((await b.store.users.byId(1))?.quota).toBe(1000);
      const channelId = runs[0]!.channelId;
      const t1 = await b.task(channelId, '100%', 'http://127.0.0.1:4001/mj/image/1.png');
      const t2 = await b.task(channelId, '100%', 'http://127.0.0.1:40011/other.png');
      await b.store.tokens.update(1, (await b.store.tokens.byKey(runs[0]!.apiKey))!.id, {
        status: 2,
        webhookSecret: '',
      });
      const moved = await b.store.demo.ensure(input(9, 'http://127.0.0.1:5002'));
      expect(moved).toMatchObject({
        channelId,
        rootId: 1,
        rootAccessToken: 'root-token-0123456789',
        apiKey: runs[0]!.apiKey,
        created: false,
        movedFrom: 'http://127.0.0.1:4001',
      });
      expect([await b.taskImageUrl(t1), await b.taskImageUrl(t2)]).toEqual([
        'http://127.0.0.1:5002/mj/image/1.png',
        'http://127.0.0.1:40011/other.png',
      ]);
      expect(await b.store.tokens.byKey(runs[0]!.apiKey)).toMatchObject({
        status: 1,
        unlimitedQuota: true,
        expiredTime: -1,
        webhookSecret: 'whsec_9',
      });
      expect((await b.store.channels.list(10, 0)).total).toBe(1);
      expect((await b.store.logs.list({ userId: 1 }, 10, 0)).rows.map((r) => [r.quota, r.content])).toEqual([
        [1000, 'quota +1000 demo starting quota'],
      ]);
    },
  ],
  [
    'ids and filters past 32 bits (any safe integer a client may send) name no row',
    async (b) => {
      await b.store.users.createRootIfEmpty('root-token-0123456789', 1);
      const far = 2 ** 40;
      expect(await b.store.users.byId(far)).toBeNull();
      expect(await b.store.users.update(far, { role: 10 }, byAdmin(5))).toBeNull();
      expect(await b.store.users.update(far, {}, byAdmin(5))).toBeNull();
      await b.store.users.setAccessToken(far, 'x-token-0123456789');
      expect(await b.store.tokens.list(far, 10, 0)).toEqual({ rows: [], total: 0 });
      expect(await b.store.tokens.update(1, far, { name: 'x' })).toBeNull();
      expect(await b.store.tokens.update(far, 1, {})).toBeNull();
      expect(await b.store.tokens.delete(far, far)).toBe(false);
      await b.store.tokens.touch(far, 1);
      expect(await b.store.channels.byId(far)).toBeNull();
      expect(await b.store.channels.update(far, { name: 'x' })).toBeNull();
      expect(await b.store.channels.delete(far)).toBe(false);
      await b.store.channels.autoDisable(far);
      expect(await b.store.logs.list({ userId: far, type: far }, 10, 0)).toEqual({ rows: [], total: 0 });
      expect(await b.store.deliveryLog.list(far, 10, 0)).toEqual({ rows: [], total: 0 });
      expect((await b.store.logs.list({}, 10, 0)).total).toBe(0);
    },
  ],
];

const backends: Array<[string, () => Promise<Backend>]> = [
  ['sqlite', sqliteBackend],
  ['postgres', pgBackend],
];

for (const [name, open] of backends) {
  describe(`management store scenarios (${name})`, () => {
    for (const [title, run] of scenarios) {
      test(title, async () => {
        const b = await open();
        try {
          await run(b);
        } finally {
          await b.cleanup();
        }
      });
    }
  });
}

// The interface-only suite of the SQLite adapter's tests, run on PostgreSQL as well.
managementStoreSuite('postgres', async () => {
  const store: Store = createPgStore((await freshPg()).db);
  expect(store.kind).toBe('postgres');
  return store;
});

test('PostgreSQL: the per-request lookups are prepared once per connection and reused', async () => {
  const { url } = await freshPg();
  const db = await openPgDatabase(url, { poolSize: 1 });
  try {
    const s = createPgManagementStore(db);
    await s.users.createRootIfEmpty('root-token-0123456789', 1);
    expect(typeof s.tokens.byKeyWithUser).toBe('function');
    for (let i = 0; i < 5; i++) {
      await s.tokens.byKey(`key-${i}`);
      await s.users.byAccessToken(`token-${i}`);
      await s.logs.list({ userId: i }, 10, 0);
    }
    // One connection: the catalogue below is the one the lookups ran on.
    const rows = await db.$client<Array<{ statement: string; n: number }>>`
      SELECT statement, count(*)::int AS n FROM pg_prepared_statements
      WHERE statement NOT LIKE '%pg_prepared_statements%' AND (statement LIKE '%FROM tokens WHERE key%' OR statement LIKE '%FROM users WHERE access_token%'
        OR statement LIKE '%FROM logs WHERE user_id%') GROUP BY statement`;
    expect(rows.map((r) => r.n)).toEqual([1, 1, 1, 1]);
  } finally {
    await db.$client.end({ timeout: 1 });
  }
});

test('one PostgreSQL store per connection pool', async () => {
  const { db } = await freshPg();
  expect(createPgManagementStore(db)).toBe(createPgManagementStore(db));
});
