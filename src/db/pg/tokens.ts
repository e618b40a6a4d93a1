import type { NewToken, TokenPatch } from '../../contract/management.ts';
import type { TokenRow, UserRow } from '../../contract/rows.ts';
import type { PgDB } from './client.ts';
import { PG_USER_COLUMNS } from './users.ts';

/** Every column of `tokens`, named as the row type. */
const TOKEN_COLUMNS = `id, user_id AS "userId", name, key, status, remain_quota AS "remainQuota", unlimited_quota AS "unlimitedQuota",
  used_quota AS "usedQuota", expired_time AS "expiredTime", created_time AS "createdTime", accessed_time AS "accessedTime",
  webhook_secret AS "webhookSecret", previous_webhook_secret AS "previousWebhookSecret",
  webhook_secret_rotated_at AS "webhookSecretRotatedAt", rate_limit_per_minute AS "rateLimitPerMinute"`;

const orNull = <T>(v: T | undefined): T | null => (v === undefined ? null : v);

/** The user columns again, each named `u.<field>`, so one row carries a key and its owner. */
const OWNER_PREFIX = 'u.';
const OWNER_COLUMNS = PG_USER_COLUMNS.split(',')
  .map((c) => {
    const [column, alias] = c.trim().split(/\s+AS\s+/i) as [string, string | undefined];
    return `${column} AS "${OWNER_PREFIX}${(alias ?? column).replaceAll('"', '')}"`;
  })
  .join(', ');

/** A key's row and its owner's (null when the user row is gone), split from one joined row. */
function splitOwner(joined: Record<string, unknown>): { token: TokenRow; user: UserRow | null } {
  const token: Record<string, unknown> = {};
  const user: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(joined)) {
    if (k.startsWith(OWNER_PREFIX)) user[k.slice(OWNER_PREFIX.length)] = v;
    else token[k] = v;
  }
  return { token: token as TokenRow, user: user.id === null || user.id === undefined ? null : (user as UserRow) };
}

/** API keys on PostgreSQL, with the semantics of src/db/sqlite/tokens.ts. */
export function pgTokens(db: PgDB) {
  const sql = db.$client;
  const cols = () => sql.unsafe(TOKEN_COLUMNS);
  return {
    /** On every relay request: one fixed text, prepared once per connection by postgres.js. */
    async byKey(key: string): Promise<TokenRow | null> {
      const [row] = await sql<TokenRow[]>`SELECT ${cols()} FROM tokens WHERE key = ${key}::text`;
      return row ?? null;
    },
    /** byKey and the owner's row (users.byId) in one statement: the relay's authentication reads both on every request. */
    async byKeyWithUser(key: string): Promise<{ token: TokenRow; user: UserRow | null } | null> {
      const [row] = await sql<
        Array<Record<string, unknown>>
      >`SELECT k.*, u.* FROM (SELECT ${cols()} FROM tokens WHERE key = ${key}::text) k
        LEFT JOIN LATERAL (SELECT ${sql.unsafe(OWNER_COLUMNS)} FROM users WHERE id = k."userId") u ON true`;
      return row ? splitOwner(row) : null;
    },
    async touch(id: number, now: number): Promise<void> {
      await sql`UPDATE tokens SET accessed_time = ${now}::bigint WHERE id = ${id}::bigint`;
    },
    async create(t: NewToken): Promise<TokenRow> {
      const [row] = await sql<TokenRow[]>`
        INSERT INTO tokens (user_id, name, key, status, remain_quota, unlimited_quota, expired_time, created_time,
          webhook_secret, rate_limit_per_minute)
        VALUES (${t.userId}::int, ${t.name}::text, ${t.key}::text, ${t.status}::int, ${t.remainQuota}::bigint,
          ${t.unlimitedQuota}::boolean, ${t.expiredTime}::bigint, ${t.createdTime}::bigint, ${t.webhookSecret}::text,
          ${t.rateLimitPerMinute}::int)
        RETURNING ${cols()}`;
      return row!;
    },
    async list(userId: number, limit: number, offset: number): Promise<{ rows: TokenRow[]; total: number }> {
      const [rows, [count]] = await Promise.all([
        sql<TokenRow[]>`SELECT ${cols()} FROM tokens WHERE user_id = ${userId}::bigint ORDER BY id DESC
          LIMIT ${limit}::int OFFSET ${offset}::bigint`,
        sql<Array<{ n: number }>>`SELECT count(*)::int AS n FROM tokens WHERE user_id = ${userId}::bigint`,
      ]);
      return { rows, total: count?.n ?? 0 };
    },
    async update(userId: number, id: number, p: TokenPatch): Promise<TokenRow | null> {
      if (Object.keys(p).length === 0) {
        const [row] = await sql<
          TokenRow[]
        >`SELECT ${cols()} FROM tokens WHERE id = ${id}::bigint AND user_id = ${userId}::bigint`;
        return row ?? null;
      }
      // One statement text for every patch shape: an absent field keeps its value. A rotation keeps
      // the outgoing secret, read by this same UPDATE (right-hand sides see the row as it was).
      const rotate = p.rotateWebhookSecret ?? null;
      const [row] = await sql<TokenRow[]>`
        UPDATE tokens SET name = coalesce(${orNull(p.name)}::text, name), status = coalesce(${orNull(p.status)}::int, status),
          remain_quota = coalesce(${orNull(p.remainQuota)}::bigint, remain_quota),
          unlimited_quota = coalesce(${orNull(p.unlimitedQuota)}::boolean, unlimited_quota),
          expired_time = coalesce(${orNull(p.expiredTime)}::bigint, expired_time),
          rate_limit_per_minute = coalesce(${orNull(p.rateLimitPerMinute)}::int, rate_limit_per_minute),
          webhook_secret = coalesce(${rotate?.secret ?? null}::text, ${orNull(p.webhookSecret)}::text, webhook_secret),
          previous_webhook_secret = CASE WHEN ${rotate !== null}::boolean THEN webhook_secret ELSE previous_webhook_secret END,
          webhook_secret_rotated_at = coalesce(${rotate?.now ?? null}::bigint, webhook_secret_rotated_at)
        WHERE id = ${id}::bigint AND user_id = ${userId}::bigint RETURNING ${cols()}`;
      return row ?? null;
    },
    async delete(userId: number, id: number): Promise<boolean> {
      const rows = await sql`DELETE FROM tokens WHERE id = ${id}::bigint AND user_id = ${userId}::bigint RETURNING id`;
      return rows.length > 0;
    },
    /** The user's newest key that can pay now (status 1 = enabled, as TOKEN_STATUS.enabled). */
    async newestUsable(userId: number, now: number): Promise<TokenRow | null> {
      const [row] = await sql<TokenRow[]>`SELECT ${cols()} FROM tokens WHERE user_id = ${userId}::bigint AND status = 1
        AND (expired_time = -1 OR expired_time > ${now}::bigint) AND (unlimited_quota OR remain_quota > 0)
        ORDER BY id DESC LIMIT 1`;
      return row ?? null;
    },
  };
}
