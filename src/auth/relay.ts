import { TOKEN_STATUS, USER_STATUS } from '../contract/constants.ts';
import type { ManagementStore } from '../contract/index.ts';
import type { TokenRow, UserRow } from '../contract/rows.ts';
import { AppError } from '../domain/errors.ts';
import { type ApiToken, toApiToken } from '../domain/tokens.ts';
import { toUser, type User } from '../domain/users.ts';

export interface RelayCaller {
  user: User;
  token: ApiToken;
}

/** The API key of a relay request (SPEC §5.2), without `Bearer ` or `sk-`. */
export function apiKeyFrom(headers: Headers): string {
  let key = (headers.get('authorization') ?? '')
    .trim()
    .replace(/^bearer\s+/i, '')
    .trim();
  if (key === '' || key === 'midjourney-proxy') {
    key = (headers.get('mj-api-secret') ?? '')
      .trim()
      .replace(/^bearer\s+/i, '')
      .trim();
  }
  if (key.startsWith('sk-')) key = key.slice(3);
  return key;
}

/** Authenticate a relay API key; failures carry the OpenAI-style `code` of SPEC §5.2. */
export async function authenticateRelay(
  store: Pick<ManagementStore, 'users' | 'tokens'>,
  headers: Headers,
  now: number,
): Promise<RelayCaller> {
  const key = apiKeyFrom(headers);
  if (!key) throw new AppError('UNAUTHORIZED', 'missing API key', 'missing_api_key');
  let row: TokenRow | null;
  // undefined: not read yet (the store has no joined read).
  let userRow: UserRow | null | undefined;
  if (store.tokens.byKeyWithUser) {
    const both = await store.tokens.byKeyWithUser(key);
    row = both?.token ?? null;
    userRow = both?.user ?? null;
  } else row = await store.tokens.byKey(key);
  if (!row) throw new AppError('UNAUTHORIZED', 'invalid API key', 'invalid_api_key');
  if (row.status === TOKEN_STATUS.disabled) throw new AppError('UNAUTHORIZED', 'API key is disabled', 'token_disabled');
  if (row.status === TOKEN_STATUS.expired || (row.expiredTime !== -1 && row.expiredTime < now)) {
    throw new AppError('UNAUTHORIZED', 'API key has expired', 'token_expired');
  }
  if (row.status === TOKEN_STATUS.exhausted || (!row.unlimitedQuota && row.remainQuota <= 0)) {
    throw new AppError('UNAUTHORIZED', 'API key quota is exhausted', 'token_exhausted');
  }
  if (userRow === undefined) userRow = await store.users.byId(row.userId);
  if (!userRow) throw new AppError('NOT_FOUND', `user ${row.userId} not found`);
  const user = toUser(userRow);
  if (user.status !== USER_STATUS.enabled) throw new AppError('FORBIDDEN', 'User has been banned', 'user_banned');
  // At most once a minute per key, so the hot path rarely writes.
  if (now - row.accessedTime >= 60_000) await store.tokens.touch(row.id, now);
  return { user, token: toApiToken(row) };
}
