import { eq, getTableColumns, sql } from 'drizzle-orm';
import type { DB } from '../db/client.ts';
import { prepared } from '../db/prepared.ts';
import { tokens, users, type TokenRow, type UserRow } from '../db/schema/index.ts';
import { AppError } from '../domain/errors.ts';
import { toUser, type User } from '../domain/users.ts';

/**
 * The lookups every authenticated request makes, prepared once per connection (Drizzle
 * `.prepare()` with placeholders): a request binds values instead of building and compiling SQL.
 * Same queries as findUserByAccessToken / getUser / findTokenByKey / touchToken in src/domain.
 */
function build(db: DB) {
  return {
    userById: db.select().from(users).where(eq(users.id, sql.placeholder('id'))).prepare(),
    tokenByKey: db.select().from(tokens).where(eq(tokens.key, sql.placeholder('key'))).prepare(),
    touch: db.update(tokens).set({ accessedTime: sql`${sql.placeholder('now')}` }).where(eq(tokens.id, sql.placeholder('id'))).prepare(),
  };
}

type Lookups = ReturnType<typeof build>;
const cache = new WeakMap<DB, Lookups>();

function lookups(db: DB): Lookups {
  let s = cache.get(db);
  if (!s) cache.set(db, (s = build(db)));
  return s;
}

/**
 * The user of an access token, on every management request: a plain prepared statement whose
 * columns are named by UserRow key, so the row needs no per-column mapping by Drizzle.
 */
const USER_BY_TOKEN_SQL = `SELECT ${Object.entries(getTableColumns(users)).map(([key, c]) => `${c.name} AS "${key}"`).join(', ')}
  FROM users WHERE access_token = ?1`;

export function userByAccessToken(db: DB, token: string): User | null {
  const row = prepared<UserRow>(db, USER_BY_TOKEN_SQL).get(token);
  return row ? toUser(row) : null;
}

export function userById(db: DB, id: number): User {
  const row = lookups(db).userById.get({ id });
  if (!row) throw new AppError('NOT_FOUND', `user ${id} not found`);
  return toUser(row);
}

export function tokenByKey(db: DB, key: string): TokenRow | null {
  return lookups(db).tokenByKey.get({ key }) ?? null;
}

/** Stamp accessed_time, at most once a minute per key so the hot path rarely writes. */
export function touchTokenAccess(db: DB, row: TokenRow, now: number): void {
  if (now - row.accessedTime < 60_000) return;
  lookups(db).touch.run({ now, id: row.id });
}
