import { count, desc, eq, getTableColumns, sql } from 'drizzle-orm';
import { LOG_TYPE, ROLE, USER_STATUS } from '../../contract/constants.ts';
import type { LoggedQuota, NewUser, UserPatch } from '../../contract/management.ts';
import type { UserRow } from '../../contract/rows.ts';
import type { DB } from '../client.ts';
import { prepared } from '../prepared.ts';
import { logs, users } from '../schema/index.ts';
import type { DbLike } from '../types.ts';

/**
 * Set a user's quota and write the signed change as a system log row, so the logs alone rebuild
 * every balance (Σ system − Σ consume + Σ refund). The delta is read by the INSERT ... SELECT in
 * the same transaction as the UPDATE: a charge landing between "read" and "write" cannot skew it.
 * Call inside a synchronous transaction. Returns the updated row, or undefined for no such user.
 */
export function setQuotaLogged(
  tx: DbLike,
  userId: number,
  quota: number,
  who: string,
  now: number,
): UserRow | undefined {
  tx.run(sql`INSERT INTO logs (user_id, type, content, quota, created_time)
    SELECT id, ${LOG_TYPE.system}, 'quota set to ' || ${quota} || ' (' || printf('%+d', ${quota} - quota) || ') ' || ${who},
      ${quota} - quota, ${now}
    FROM users WHERE id = ${userId} AND quota <> ${quota}`);
  return tx.update(users).set({ quota }).where(eq(users.id, userId)).returning().get();
}

/** Add to a user's quota (a grant, e.g. the demo's starting quota), logged like an admin's change. */
export function grantQuotaLogged(tx: DbLike, userId: number, delta: number, why: string, now: number): void {
  if (delta === 0) return;
  tx.update(users)
    .set({ quota: sql`${users.quota} + ${delta}` })
    .where(eq(users.id, userId))
    .run();
  tx.insert(logs)
    .values({
      userId,
      type: LOG_TYPE.system,
      content: `quota ${delta > 0 ? '+' : ''}${delta} ${why}`.slice(0, 500),
      quota: delta,
      createdTime: now,
    })
    .run();
}

/**
 * The user of an access token, on every management request: a plain prepared statement whose
 * columns are named by UserRow key, so the row needs no per-column mapping by Drizzle.
 */
const USER_BY_TOKEN_SQL = `SELECT ${Object.entries(getTableColumns(users))
  .map(([key, c]) => `${c.name} AS "${key}"`)
  .join(', ')}
  FROM users WHERE access_token = ?1`;

export function sqliteUsers(db: DB) {
  const byId = db
    .select()
    .from(users)
    .where(eq(users.id, sql.placeholder('id')))
    .prepare();
  return {
    async byAccessToken(token: string): Promise<UserRow | null> {
      // Booleans are not among users' columns, so the raw row is a UserRow as it stands.
      return prepared<UserRow>(db, USER_BY_TOKEN_SQL).get(token) ?? null;
    },
    async byId(id: number): Promise<UserRow | null> {
      return byId.get({ id }) ?? null;
    },
    async createRootIfEmpty(accessToken: string, now: number): Promise<boolean> {
      return db.transaction(
        (tx) => {
          const existing = tx.select({ n: count() }).from(users).get();
          if ((existing?.n ?? 0) > 0) return false;
          tx.insert(users)
            .values({
              id: 1,
              username: 'root',
              displayName: 'Root',
              role: ROLE.root,
              status: USER_STATUS.enabled,
              accessToken,
              quota: 0,
              createdTime: now,
            })
            .run();
          return true;
          // Immediate: it reads before it writes, and processes starting together must wait for the
          // write lock (busy_timeout) rather than fail on a stale read snapshot.
        },
        { behavior: 'immediate' },
      );
    },
    async setAccessToken(id: number, token: string): Promise<void> {
      db.update(users).set({ accessToken: token }).where(eq(users.id, id)).run();
    },
    async create(user: NewUser, quota: LoggedQuota | null): Promise<UserRow | null> {
      return db.transaction(
        (tx) => {
          const taken = tx.select({ id: users.id }).from(users).where(eq(users.username, user.username)).get();
          if (taken) return null;
          const created = tx
            .insert(users)
            .values({ ...user, quota: 0 })
            .returning()
            .get();
          if (!quota || quota.quota === 0) return created;
          return setQuotaLogged(tx, created.id, quota.quota, quota.who, quota.now) ?? created;
        },
        { behavior: 'immediate' },
      );
    },
    async update(id: number, patch: UserPatch, quota: LoggedQuota | null): Promise<UserRow | null> {
      return db.transaction((tx) => {
        let updated = Object.keys(patch).length
          ? tx.update(users).set(patch).where(eq(users.id, id)).returning().get()
          : undefined;
        if (quota) updated = setQuotaLogged(tx, id, quota.quota, quota.who, quota.now);
        else if (!Object.keys(patch).length) updated = tx.select().from(users).where(eq(users.id, id)).get();
        return updated ?? null;
      });
    },
    async list(limit: number, offset: number): Promise<{ rows: UserRow[]; total: number }> {
      const rows = db.select().from(users).orderBy(desc(users.id)).limit(limit).offset(offset).all();
      const total = db.select({ n: count() }).from(users).get()?.n ?? 0;
      return { rows, total };
    },
  };
}
