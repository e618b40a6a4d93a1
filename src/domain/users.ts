import { ROLE, USER_STATUS } from '../contract/constants.ts';
import type { ManagementStore, UserPatch } from '../contract/index.ts';
import type { UserRow } from '../contract/rows.ts';
import type { Clock } from '../lib/clock.ts';
import { randomAlphanumeric } from '../lib/ids.ts';
import { AppError } from './errors.ts';
import { listPage, type Page, type PageQuery } from './pagination.ts';

type Users = Pick<ManagementStore, 'users'>;

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
    id: row.id,
    username: row.username,
    displayName: row.displayName,
    role: row.role,
    status: row.status,
    quota: row.quota,
    usedQuota: row.usedQuota,
    requestCount: row.requestCount,
  };
}

export function userView(u: User): UserView {
  return {
    id: u.id,
    username: u.username,
    display_name: u.displayName,
    role: u.role,
    status: u.status,
    quota: u.quota,
    used_quota: u.usedQuota,
    request_count: u.requestCount,
  };
}

/** Access tokens are 40 random alphanumerics (SPEC asks for 32+). */
export function newAccessToken(): string {
  return randomAlphanumeric(40);
}

export async function getUser(store: Users, id: number): Promise<User> {
  const row = await store.users.byId(id);
  if (!row) throw new AppError('NOT_FOUND', `user ${id} not found`);
  return toUser(row);
}

/**
 * On first start with an empty users table, create user 1 `root` (role 100). Root starts at quota 0,
 * so no system log row is owed; any later grant (admin, demo) writes its own. Returns the token
 * only when it was generated here, so the caller can print it once.
 */
export async function bootstrapRoot(
  store: Users,
  clock: Clock,
  configuredToken: string | null,
): Promise<{ created: boolean; generatedToken: string | null }> {
  const token = configuredToken ?? newAccessToken();
  const created = await store.users.createRootIfEmpty(token, clock.now());
  return { created, generatedToken: created && !configuredToken ? token : null };
}

/** Replace the caller's access token; the old one stops working at once. */
export async function regenerateAccessToken(store: Users, userId: number): Promise<string> {
  const token = newAccessToken();
  await store.users.setAccessToken(userId, token);
  return token;
}

export interface CreateUserInput {
  username: string;
  role?: 1 | 10 | undefined;
  quota?: number | undefined;
  display_name?: string | undefined;
}

const byAdmin = (actor: User) => `by admin ${actor.id} (${actor.username})`;

/**
 * Admins create common users; only root creates admins. A starting quota is set like an admin's
 * later change: logged with its signed delta, in the transaction that creates the user.
 */
export async function createUser(
  store: Users,
  clock: Clock,
  actor: User,
  input: CreateUserInput,
): Promise<UserView & { access_token: string }> {
  const role = input.role ?? ROLE.common;
  if (role >= ROLE.admin && actor.role < ROLE.root) throw new AppError('FORBIDDEN', 'only root can create admins');
  const token = newAccessToken();
  const now = clock.now();
  const quota =
    input.quota === undefined || input.quota === 0 ? null : { quota: input.quota, who: byAdmin(actor), now };
  const row = await store.users.create(
    {
      username: input.username,
      displayName: input.display_name ?? input.username,
      role,
      status: USER_STATUS.enabled,
      accessToken: token,
      createdTime: now,
    },
    quota,
  );
  if (!row) throw new AppError('CONFLICT', `username ${input.username} is taken`);
  return { ...userView(toUser(row)), access_token: token };
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
 * demoted or disabled, so the gateway always keeps an operator); only root grants admin. A quota
 * change is logged with the signed delta the database computes in the same transaction
 * (Σ system − Σ consume + Σ refund rebuilds every balance).
 */
export async function updateUser(store: Users, clock: Clock, actor: User, input: UpdateUserInput): Promise<UserView> {
  const target = await getUser(store, input.id);
  if (actor.role < ROLE.root && target.role >= actor.role && target.id !== actor.id) {
    throw new AppError('FORBIDDEN', 'Unauthorized, insufficient privileges');
  }
  if (input.role !== undefined && input.role >= ROLE.admin && actor.role < ROLE.root) {
    throw new AppError('FORBIDDEN', 'only root can grant the admin role');
  }
  if (target.role === ROLE.root && (input.role !== undefined || input.status === USER_STATUS.disabled)) {
    throw new AppError('BAD_REQUEST', 'the root user cannot be demoted or disabled');
  }
  const patch: UserPatch = {};
  if (input.status !== undefined) patch.status = input.status;
  if (input.role !== undefined) patch.role = input.role;
  if (input.display_name !== undefined) patch.displayName = input.display_name;
  if (Object.keys(patch).length === 0 && input.quota === undefined) return userView(target);
  const quota = input.quota === undefined ? null : { quota: input.quota, who: byAdmin(actor), now: clock.now() };
  const row = await store.users.update(input.id, patch, quota);
  if (!row) throw new AppError('NOT_FOUND', `user ${input.id} not found`);
  return userView(toUser(row));
}

export async function listUsers(store: Users, query: PageQuery): Promise<Page<UserView>> {
  return listPage(
    query,
    (limit, offset) => store.users.list(limit, offset),
    (r) => userView(toUser(r)),
  );
}
