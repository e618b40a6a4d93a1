import { ROLE, USER_STATUS } from '../../contract/constants.ts';
import type { LoggedQuota, NewUser, UserPatch } from '../../contract/management.ts';
import type { UserRow } from '../../contract/rows.ts';
import type { PgDB } from './client.ts';
import { setQuotaLoggedPg } from './money.ts';

/** Every column of `users`, named as the row type (aliased in SQL: no per-row mapping). */
export const PG_USER_COLUMNS = `id, username, display_name AS "displayName", role, status, access_token AS "accessToken", quota,
  used_quota AS "usedQuota", request_count AS "requestCount", created_time AS "createdTime"`;

/** Any constant shared by every replica: the transaction lock around the first start's root user. */
const BOOTSTRAP_LOCK_KEY = 0x6d6a7231; // "mjr1"

const orNull = <T>(v: T | undefined): T | null => (v === undefined ? null : v);

/*
 * Ids and filters from a client may be any safe integer, past the int4 columns' range: the
 * lookups bind them as bigint (int4 = int8 still walks the index), so such an id names no row,
 * as on SQLite, instead of failing with "integer out of range".
 */
const INT4_MAX = 2_147_483_647;

/** users on PostgreSQL, with the semantics of src/db/sqlite/users.ts. */
export function pgUsers(db: PgDB) {
  const sql = db.$client;
  const cols = () => sql.unsafe(PG_USER_COLUMNS);
  async function byId(id: number): Promise<UserRow | null> {
    const [row] = await sql<UserRow[]>`SELECT ${cols()} FROM users WHERE id = ${id}::bigint`;
    return row ?? null;
  }
  return {
    async byAccessToken(token: string): Promise<UserRow | null> {
      const [row] = await sql<UserRow[]>`SELECT ${cols()} FROM users WHERE access_token = ${token}::text`;
      return row ?? null;
    },
    byId,
    async createRootIfEmpty(accessToken: string, now: number): Promise<boolean> {
      return sql.begin(async (tx) => {
        // Replicas starting together queue here; the next one's check then sees the committed root.
        await tx`SELECT pg_advisory_xact_lock(${BOOTSTRAP_LOCK_KEY}::bigint)`;
        const inserted = await tx`
          INSERT INTO users (id, username, display_name, role, status, access_token, quota, created_time)
          SELECT 1, 'root', 'Root', ${ROLE.root}::int, ${USER_STATUS.enabled}::int, ${accessToken}::text, 0, ${now}::bigint
          WHERE NOT EXISTS (SELECT 1 FROM users)
          ON CONFLICT DO NOTHING RETURNING id`;
        if (inserted.length === 0) return false;
        // An explicit id does not advance the identity: without this the next user would get id 1 again.
        await tx`SELECT setval(pg_get_serial_sequence('users', 'id'), (SELECT max(id) FROM users))`;
        return true;
      });
    },
    async setAccessToken(id: number, token: string): Promise<void> {
      await sql`UPDATE users SET access_token = ${token}::text WHERE id = ${id}::bigint`;
    },
    async create(user: NewUser, quota: LoggedQuota | null): Promise<UserRow | null> {
      return sql.begin(async (tx) => {
        // NOT EXISTS: a taken name draws no id (as on SQLite, ids stay consecutive); the unique
        // index decides a race between two creates of one name: the loser gets null.
        const [created] = await tx<UserRow[]>`
          INSERT INTO users (username, display_name, role, status, access_token, quota, created_time)
          SELECT ${user.username}::text, ${user.displayName}::text, ${user.role}::int, ${user.status}::int,
            ${user.accessToken}::text, 0, ${user.createdTime}::bigint
          WHERE NOT EXISTS (SELECT 1 FROM users WHERE username = ${user.username}::text)
          ON CONFLICT (username) DO NOTHING RETURNING ${cols()}`;
        if (!created) return null;
        if (!quota || quota.quota === 0) return created;
        return (await setQuotaLoggedPg(tx, created.id, quota.quota, quota.who, quota.now)) ?? created;
      });
    },
    async update(id: number, patch: UserPatch, quota: LoggedQuota | null): Promise<UserRow | null> {
      const hasPatch = Object.keys(patch).length > 0;
      if (!hasPatch && !quota) return byId(id);
      // setQuotaLoggedPg binds the id as int4.
      if (!Number.isInteger(id) || Math.abs(id) > INT4_MAX) return null;
      return sql.begin(async (tx) => {
        let updated: UserRow | null = null;
        if (hasPatch) {
          // One statement text for every patch shape (prepared once): an absent field keeps its value.
          [updated = null] = await tx<UserRow[]>`
            UPDATE users SET status = coalesce(${orNull(patch.status)}::int, status), role = coalesce(${orNull(patch.role)}::int, role),
              display_name = coalesce(${orNull(patch.displayName)}::text, display_name)
            WHERE id = ${id}::bigint RETURNING ${cols()}`;
        }
        if (quota) updated = await setQuotaLoggedPg(tx, id, quota.quota, quota.who, quota.now);
        return updated;
      });
    },
    async list(limit: number, offset: number): Promise<{ rows: UserRow[]; total: number }> {
      const [rows, [count]] = await Promise.all([
        sql<UserRow[]>`SELECT ${cols()} FROM users ORDER BY id DESC LIMIT ${limit}::int OFFSET ${offset}::bigint`,
        sql<Array<{ n: number }>>`SELECT count(*)::int AS n FROM users`,
      ]);
      return { rows, total: count?.n ?? 0 };
    },
  };
}
