import { USER_STATUS } from '../contract/constants.ts';
import type { ManagementStore } from '../contract/index.ts';
import { AppError } from '../domain/errors.ts';
import { toUser, type User } from '../domain/users.ts';

/** The two headers the management API authenticates with (SPEC §5.1). */
export interface ManagementCredentials {
  authorization: string | null;
  newApiUser: string | null;
}

export function managementCredentials(headers: Headers): ManagementCredentials {
  return { authorization: headers.get('authorization'), newApiUser: headers.get('new-api-user') };
}

export const AUTH_MESSAGES = {
  notLoggedIn: 'Unauthorized, not logged in and no access token provided',
  invalidToken: 'Unauthorized, invalid access token',
  noUserHeader: 'Unauthorized, New-Api-User header not provided',
  userHeaderFormat: 'Unauthorized, New-Api-User header format error',
  userHeaderMismatch: 'Unauthorized, New-Api-User does not match logged in user',
  banned: 'User has been banned',
  insufficient: 'Unauthorized, insufficient privileges',
} as const;

/**
 * Resolve the caller of the management API, checking in the order of SPEC §5.1's table. The one
 * implementation behind tRPC's userProcedure/adminProcedure and therefore the REST aliases.
 */
export async function authenticateManagement(
  store: Pick<ManagementStore, 'users'>,
  creds: ManagementCredentials,
  minRole: number,
): Promise<User> {
  const raw = (creds.authorization ?? '').trim();
  const token = raw.replace(/^bearer\s+/i, '').trim();
  if (!token) throw new AppError('UNAUTHORIZED', AUTH_MESSAGES.notLoggedIn);
  const row = await store.users.byAccessToken(token);
  if (!row) throw new AppError('UNAUTHORIZED', AUTH_MESSAGES.invalidToken);
  const header = (creds.newApiUser ?? '').trim();
  if (!header) throw new AppError('UNAUTHORIZED', AUTH_MESSAGES.noUserHeader);
  if (!/^\d+$/.test(header) || !Number.isSafeInteger(Number(header))) {
    throw new AppError('UNAUTHORIZED', AUTH_MESSAGES.userHeaderFormat);
  }
  const user = toUser(row);
  if (Number(header) !== user.id) throw new AppError('UNAUTHORIZED', AUTH_MESSAGES.userHeaderMismatch);
  if (user.status !== USER_STATUS.enabled) throw new AppError('FORBIDDEN', AUTH_MESSAGES.banned);
  if (user.role < minRole) throw new AppError('FORBIDDEN', AUTH_MESSAGES.insufficient);
  return user;
}
