import { count, desc, eq, sql } from 'drizzle-orm';
import type { DB } from '../db/client.ts';
import { LOG_TYPE, logs, ROLE, USER_STATUS, users, type UserRow } from '../db/schema/index.ts';
import type { DbLike } from '../db/types.ts';
import type { Clock } from '../lib/clock.ts';
import { randomAlphanumeric } from '../lib/ids.ts';
import { AppError } from './errors.ts';
import { type Page, type PageQuery, pageOf } from './pagination.ts';

/** What the rest of the app knows about an authenticated user (never the access token). */
export interface User {
  id: number;
  username: string;
  displayName: string;
  role: number;
  status: number;
  quota: number;
  usedQuota: number;
  requestCount: number;
}

export interface UserView {
  id: number;
  username: string;
  display_name: string;
  role: number;
  status: number;
  quota: number;
  used_quota: number;
  request_count: number;
}

export function toUser(row: UserRow): User {
  return {
    id: row.id, username: row.username, displayName: row.displayName, role: row.role, status: row.status,
    quota: row.quota, usedQuota: row.usedQuota, requestCount: row.requestCount,
  };
}

export function userView(u: User): UserView {
  return {
    id: u.id, username: u.username, display_name: u.displayName, role: u.role, status: u.status,
    quota: u.quota, used_quota: u.usedQuota, request_count: u.requestCount,
  };
}

/** Access tokens are 40 random alphanumerics (SPEC asks for 32+). */
export function newAccessToken(): string {
  return randomAlphanumeric(40);
}

export function findUserByAccessToken(db: DB, token: string): User | null {
  const row = db.select().from(users).where(eq(users.accessToken, token)).get();
  return row ? toUser(row) : null;
}

export function getUser(db: DB, id: number): User {
  const row = db.select().from(users).where(eq(users.id, id)).get();
  if (!row) throw new AppError('NOT_FOUND', `user ${id} not found`);
  return toUser(row);
}

/**
 * On first start with an empty users table, create user 1 `root` (role 100). Root starts at quota 0,
 * so no system log row is owed; any later grant (admin, demo) writes its own. Returns the token
 * only when it was generated here, so the caller can print it once.
 */
export function bootstrapRoot(db: DB, clock: Clock, configuredToken: string | null): { created: boolean; generatedToken: string | null } {
  return db.transaction((tx) => {
    const existing = tx.select({ n: count() }).from(users).get();
    if ((existing?.n ?? 0) > 0) return { created: false, generatedToken: null };
    const token = configuredToken ?? newAccessToken();
    tx.insert(users).values({
      id: 1, username: 'root', displayName: 'Root', role: ROLE.root, status: USER_STATUS.enabled,
      accessToken: token, quota: 0, createdTime: clock.now(),
    }).run();
    return { created: true, generatedToken: configuredToken ? null : token };
    // Immediate: it reads before it writes, and processes starting together must wait for the
    // write lock (busy_timeout) rather than fail on a stale read snapshot.
  }, { behavior: 'immediate' });
}

/** Replace the caller's access token; the old one stops working at once. */
export function regenerateAccessToken(db: DB, userId: number): string {
  const token = newAccessToken();
  db.update(users).set({ accessToken: token }).where(eq(users.id, userId)).run();
  return token;
}

export interface CreateUserInput {
  username: string;
  role?: 1 | 10 | undefined;
  quota?: number | undefined;
  display_name?: string | undefined;
}

/** Admins create common users; only root creates admins. */
export function createUser(db: DB, clock: Clock, actor: User, input: CreateUserInput): UserView & { access_token: string } {
  const role = input.role ?? ROLE.common;
  if (role >= ROLE.admin && actor.role < ROLE.root) throw new AppError('FORBIDDEN', 'only root can create admins');
  const token = newAccessToken();
  const now = clock.now();
  const row = db.transaction((tx) => {
    const taken = tx.select({ id: users.id }).from(users).where(eq(users.username, input.username)).get();
    if (taken) throw new AppError('CONFLICT', `username ${input.username} is taken`);
    const created = tx.insert(users).values({
      username: input.username, displayName: input.display_name ?? input.username, role, status: USER_STATUS.enabled,
      accessToken: token, quota: 0, createdTime: now,
    }).returning().get();
    if (input.quota === undefined || input.quota === 0) return created;
    return setQuotaLogged(tx, created.id, input.quota, `by admin ${actor.id} (${actor.username})`, now) ?? created;
  }, { behavior: 'immediate' });
  return { ...userView(toUser(row)), access_token: token };
}

/**
 * Set a user's quota and write the signed change as a system log row, so the logs alone rebuild
 * every balance (Σ system − Σ consume + Σ refund). The delta is read by the INSERT ... SELECT in
 * the same transaction as the UPDATE: a charge landing between "read" and "write" cannot skew it.
 * Call inside a synchronous transaction. Returns the updated row, or undefined for no such user.
 */
export function setQuotaLogged(tx: DbLike, userId: number, quota: number, who: string, now: number): UserRow | undefined {
  tx.run(sql`INSERT INTO logs (user_id, type, content, quota, created_time)
    SELECT id, ${LOG_TYPE.system}, 'quota set to ' || ${quota} || ' (' || printf('%+d', ${quota} - quota) || ') ' || ${who},
      ${quota} - quota, ${now}
    FROM users WHERE id = ${userId} AND quota <> ${quota}`);
  return tx.update(users).set({ quota }).where(eq(users.id, userId)).returning().get();
}

/** Add to a user's quota (a grant, e.g. the demo's starting quota), logged like an admin's change. */
export function grantQuotaLogged(tx: DbLike, userId: number, delta: number, why: string, now: number): void {
  if (delta === 0) return;
  tx.update(users).set({ quota: sql`${users.quota} + ${delta}` }).where(eq(users.id, userId)).run();
  tx.insert(logs).values({
    userId, type: LOG_TYPE.system, content: `quota ${delta > 0 ? '+' : ''}${delta} ${why}`.slice(0, 500), quota: delta, createdTime: now,
  }).run();
}

export interface UpdateUserInput {
  id: number;
  status?: 1 | 2 | undefined;
  quota?: number | undefined;
  role?: 1 | 10 | undefined;
  display_name?: string | undefined;
}

/**
 * Admin edits. An admin may only edit users below its own role (root edits anyone but cannot be
 * demoted or disabled, so the gateway always keeps an operator); only root grants admin.
 */
export function updateUser(db: DB, clock: Clock, actor: User, input: UpdateUserInput): UserView {
  const target = getUser(db, input.id);
  if (actor.role < ROLE.root && target.role >= actor.role && target.id !== actor.id) {
    throw new AppError('FORBIDDEN', 'Unauthorized, insufficient privileges');
  }
  if (input.role !== undefined && input.role >= ROLE.admin && actor.role < ROLE.root) {
    throw new AppError('FORBIDDEN', 'only root can grant the admin role');
  }
  if (target.role === ROLE.root && (input.role !== undefined || input.status === USER_STATUS.disabled)) {
    throw new AppError('BAD_REQUEST', 'the root user cannot be demoted or disabled');
  }
  const set: Partial<UserRow> = {};
  if (input.status !== undefined) set.status = input.status;
  if (input.role !== undefined) set.role = input.role;
  if (input.display_name !== undefined) set.displayName = input.display_name;
  if (Object.keys(set).length === 0 && input.quota === undefined) return userView(target);
  const now = clock.now();
  const row = db.transaction((tx) => {
    let updated = Object.keys(set).length ? tx.update(users).set(set).where(eq(users.id, input.id)).returning().get() : undefined;
    if (input.quota !== undefined) updated = setQuotaLogged(tx, input.id, input.quota, `by admin ${actor.id} (${actor.username})`, now);
    return updated;
  });
  if (!row) throw new AppError('NOT_FOUND', `user ${input.id} not found`);
  return userView(toUser(row));
}

export function listUsers(db: DB, query: PageQuery): Page<UserView> {
  const { page, pageSize, offset } = pageOf(query);
  const rows = db.select().from(users).orderBy(desc(users.id)).limit(pageSize).offset(offset).all();
  const total = db.select({ n: count() }).from(users).get()?.n ?? 0;
  return { items: rows.map((r) => userView(toUser(r))), total, page, page_size: pageSize };
}
