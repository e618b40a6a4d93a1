import type { DB } from '../db/client.ts';
import { TOKEN_STATUS, USER_STATUS } from '../db/schema/index.ts';
import { AppError } from '../domain/errors.ts';
import { toApiToken, type ApiToken } from '../domain/tokens.ts';
import type { User } from '../domain/users.ts';
import { tokenByKey, touchTokenAccess, userById } from './lookups.ts';

export interface RelayCaller {
  user: User;
  token: ApiToken;
}

/** The API key of a relay request (SPEC §5.2), without `Bearer ` or `sk-`. */
export function apiKeyFrom(headers: Headers): string {
  let key = (headers.get('authorization') ?? '').trim().replace(/^bearer\s+/i, '').trim();
  if (key === '' || key === 'midjourney-proxy') {
    key = (headers.get('mj-api-secret') ?? '').trim().replace(/^bearer\s+/i, '').trim();
  }
  if (key.startsWith('sk-')) key = key.slice(3);
  return key;
}

/** Authenticate a relay API key; failures carry the OpenAI-style `code` of SPEC §5.2. */
export function authenticateRelay(db: DB, headers: Headers, now: number): RelayCaller {
  const key = apiKeyFrom(headers);
  if (!key) throw new AppError('UNAUTHORIZED', 'missing API key', 'missing_api_key');
  const row = tokenByKey(db, key);
  if (!row) throw new AppError('UNAUTHORIZED', 'invalid API key', 'invalid_api_key');
  if (row.status === TOKEN_STATUS.disabled) throw new AppError('UNAUTHORIZED', 'API key is disabled', 'token_disabled');
  if (row.status === TOKEN_STATUS.expired || (row.expiredTime !== -1 && row.expiredTime < now)) {
    throw new AppError('UNAUTHORIZED', 'API key has expired', 'token_expired');
  }
  if (row.status === TOKEN_STATUS.exhausted || (!row.unlimitedQuota && row.remainQuota <= 0)) {
    throw new AppError('UNAUTHORIZED', 'API key quota is exhausted', 'token_exhausted');
  }
  const user = userById(db, row.userId);
  if (user.status !== USER_STATUS.enabled) throw new AppError('FORBIDDEN', 'User has been banned', 'user_banned');
  touchTokenAccess(db, row, now);
  return { user, token: toApiToken(row) };
}
