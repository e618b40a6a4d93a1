import type { TokenStore } from '../../src/contract/management.ts';
import type { DeliveryRow } from '../../src/contract/rows.ts';
import type { OutboxStore } from '../../src/contract/tasks.ts';
import { enqueueTaskChangePg } from '../../src/db/pg/outbox.ts';
import { createPgTaskStore } from '../../src/db/pg/task-store.ts';
import { pgTokens } from '../../src/db/pg/tokens.ts';
import { tasks, webhookDeliveries } from '../../src/db/schema/index.ts';
import { enqueueTaskChange, recordTaskHook } from '../../src/db/sqlite/outbox.ts';
import { createSqliteOutboxStore } from '../../src/db/sqlite/outbox-worker.ts';
import { sqliteTokens } from '../../src/db/sqlite/tokens.ts';
import { createToken } from '../../src/domain/tokens.ts';
import type { Clock } from '../../src/lib/clock.ts';
import { receiverOf } from '../../src/lib/webhook-receiver.ts';
import { tempDb } from './db.ts';
import { createTestUser } from './factories.ts';
import { tempPg } from './pg.ts';

/**
 * The webhook outbox of one dialect, as the worker and the token domain use it, over a fresh real
 * database: SQLite with its migrations, or PostgreSQL on TEST_DATABASE_URL's server. Writes go
 * through the real adapters (hooks and changes in one transaction, as a submit and the poller
 * write them). A change's payload is `{"task":<id>,"n":<change number of that task>}`.
 */
export interface HookBackend {
  outbox: OutboxStore;
  tokens: TokenStore;
  /** A user and an API key made by the domain's createToken (so it has a webhook secret). */
  keyedUser(clock: Clock): Promise<{ userId: number; tokenId: number; secret: string }>;
  /** `count` hooked tasks of the user, each with `changes` queued changes; their ids in order. */
  hookedTasks(
    who: { userId: number; tokenId: number },
    url: (i: number) => string,
    count: number,
    changes: number,
    now: number,
  ): Promise<number[]>;
  /** Every delivery's task and status, in id order. */
  deliveries(): Promise<Array<{ taskId: number; userId: number; status: string }>>;
  close(): Promise<void>;
}

const payload = (counts: Map<number, number>) => (row: { id: number }) => {
  const n = (counts.get(row.id) ?? 0) + 1;
  counts.set(row.id, n);
  return JSON.stringify({ task: row.id, n });
};

export async function sqliteBackend(): Promise<HookBackend> {
  const { db, cleanup } = tempDb();
  const counts = new Map<number, number>();
  const tokens = sqliteTokens(db);
  return {
    outbox: createSqliteOutboxStore(db),
    tokens,
    async keyedUser(clock) {
      const user = createTestUser(db);
      const key = await createToken({ tokens }, clock, user.id, { name: 'hooks', unlimited_quota: true });
      return { userId: user.id, tokenId: key.id, secret: key.webhook_secret };
    },
    async hookedTasks(who, url, count, changes, now) {
      return db.transaction((tx) => {
        const ids: number[] = [];
        for (let i = 0; i < count; i++) {
          const row = tx
            .insert(tasks)
            .values({ userId: who.userId, tokenId: who.tokenId, mjId: `mj-${who.userId}-${i}`, submitTime: now })
            .returning({ id: tasks.id })
            .get();
          recordTaskHook(tx, { taskId: row.id, userId: who.userId, tokenId: who.tokenId, url: url(i) });
          ids.push(row.id);
        }
        if (count * changes <= 1000) {
          for (let c = 0; c < changes; c++) enqueueTaskChange(tx, ids, now, payload(counts));
          return ids;
        }
        // A backlog of thousands: the rows enqueueTaskChange writes, by one prepared statement
        // (its per-row insert would take the test tens of seconds).
        const insert =
          db.$client.prepare(`INSERT INTO webhook_deliveries (task_id, user_id, token_id, mj_id, url, receiver, payload,
          status, attempts, next_attempt_at, created_time) VALUES (?, ?, ?, '', ?, ?, ?, 'pending', 0, ?, ?)`);
        const next = payload(counts);
        for (let c = 0; c < changes; c++) {
          for (const [i, id] of ids.entries())
            insert.run(id, who.userId, who.tokenId, url(i), receiverOf(url(i)), next({ id }), now, now);
        }
        return ids;
      });
    },
    async deliveries() {
      return db
        .select({
          taskId: webhookDeliveries.taskId,
          userId: webhookDeliveries.userId,
          status: webhookDeliveries.status,
        })
        .from(webhookDeliveries)
        .orderBy(webhookDeliveries.id)
        .all();
    },
    async close() {
      cleanup();
    },
  };
}

export async function pgBackend(): Promise<HookBackend> {
  const t = await tempPg({ poolSize: 8 });
  const counts = new Map<number, number>();
  const tokens = pgTokens(t.db);
  const store = createPgTaskStore(t.db, () => '', { notifyChanges: false });
  return {
    outbox: store.outbox as OutboxStore,
    tokens,
    async keyedUser(clock) {
      const [u] = await t.db.$client<Array<{ id: number }>>`
        INSERT INTO users (username, created_time) VALUES (${`u${Math.random().toString(36).slice(2, 10)}`}, ${clock.now()}) RETURNING id`;
      const key = await createToken({ tokens }, clock, u!.id, { name: 'hooks', unlimited_quota: true });
      return { userId: u!.id, tokenId: key.id, secret: key.webhook_secret };
    },
    async hookedTasks(who, url, count, changes, now) {
      return t.db.$client.begin(async (sql) => {
        const rows = await sql<Array<{ id: number }>>`
          INSERT INTO tasks (user_id, token_id, mj_id, status, submit_time)
          SELECT ${who.userId}::int, ${who.tokenId}::int, 'mj-' || ${who.userId}::int || '-' || i, 'SUBMITTED', ${now}::bigint
          FROM generate_series(0, ${count - 1}::int) AS i ORDER BY i RETURNING id`;
        const ids = rows.map((r) => r.id).sort((a, b) => a - b);
        // One statement for the hooks (recordTaskHookPg's row, in bulk: a backlog test writes thousands).
        await sql`INSERT INTO task_webhooks (task_id, user_id, token_id, url)
          SELECT h.task_id, ${who.userId}::int, ${who.tokenId}::int, h.url FROM unnest(${ids}::int[], ${ids.map((_, i) => url(i))}::text[]) AS h(task_id, url)`;
        for (let c = 0; c < changes; c++) await enqueueTaskChangePg(sql, ids, now, payload(counts));
        return ids;
      });
    },
    async deliveries() {
      return t.db.$client<Array<{ taskId: number; userId: number; status: string }>>`
        SELECT task_id AS "taskId", user_id AS "userId", status FROM webhook_deliveries ORDER BY id`;
    },
    async close() {
      await t.cleanup();
    },
  };
}

export const BACKENDS = { sqlite: sqliteBackend, pg: pgBackend } as const;

/** Deliveries of these tasks, for assertions on what a due query returned. */
export function ofTasks(rows: readonly DeliveryRow[], ids: ReadonlySet<number>): DeliveryRow[] {
  return rows.filter((r) => ids.has(r.taskId));
}
