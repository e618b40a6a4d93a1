import { TOKEN_STATUS } from '../contract/constants.ts';
import type { ManagementStore, TokenPatch } from '../contract/index.ts';
import type { TokenRow } from '../contract/rows.ts';
import type { Clock } from '../lib/clock.ts';
import { maskSecret, randomAlphanumeric } from '../lib/ids.ts';
import { AppError } from './errors.ts';
import { listPage, type Page, type PageQuery } from './pagination.ts';

type Tokens = Pick<ManagementStore, 'tokens'>;

/** What the relay needs of an API key (never the key itself). */
export interface ApiToken {
  id: number;
  userId: number;
  name: string;
  status: number;
  remainQuota: number;
  unlimitedQuota: boolean;
  expiredTime: number;
  /** Submits per minute; 0 = the RELAY_RATE_LIMIT_PER_MINUTE default. */
  rateLimitPerMinute: number;
}

export interface TokenView {
  id: number;
  user_id: number;
  name: string;
  key: string;
  status: number;
  remain_quota: number;
  unlimited_quota: boolean;
  used_quota: number;
  expired_time: number;
  created_time: number;
  accessed_time: number;
  rate_limit_per_minute: number;
  /** Signs this key's webhooks (SPEC §15): in full from create and a rotation only, masked elsewhere. */
  webhook_secret: string;
}

const WEBHOOK_SECRET_PREFIX = 'whsec_';

/** A new webhook signing secret: `whsec_` + 32 random alphanumerics. */
export function newWebhookSecret(): string {
  return `${WEBHOOK_SECRET_PREFIX}${randomAlphanumeric(32)}`;
}

function maskWebhookSecret(secret: string): string {
  if (secret === '') return '';
  return secret.startsWith(WEBHOOK_SECRET_PREFIX)
    ? `${WEBHOOK_SECRET_PREFIX}${maskSecret(secret.slice(WEBHOOK_SECRET_PREFIX.length))}`
    : maskSecret(secret);
}

function view(row: TokenRow, fullKey: boolean, fullSecret = fullKey): TokenView {
  return {
    id: row.id,
    user_id: row.userId,
    name: row.name,
    key: fullKey ? `sk-${row.key}` : `sk-${maskSecret(row.key)}`,
    status: row.status,
    remain_quota: row.remainQuota,
    unlimited_quota: row.unlimitedQuota,
    used_quota: row.usedQuota,
    expired_time: row.expiredTime,
    created_time: row.createdTime,
    accessed_time: row.accessedTime,
    rate_limit_per_minute: row.rateLimitPerMinute,
    webhook_secret: fullSecret ? row.webhookSecret : maskWebhookSecret(row.webhookSecret),
  };
}

export function toApiToken(row: TokenRow): ApiToken {
  return {
    id: row.id,
    userId: row.userId,
    name: row.name,
    status: row.status,
    remainQuota: row.remainQuota,
    unlimitedQuota: row.unlimitedQuota,
    expiredTime: row.expiredTime,
    rateLimitPerMinute: row.rateLimitPerMinute,
  };
}

export interface CreateTokenInput {
  name: string;
  remain_quota?: number | undefined;
  unlimited_quota?: boolean | undefined;
  expired_time?: number | undefined;
  rate_limit_per_minute?: number | undefined;
}

/** New API key: 48 random alphanumerics, returned in full only here. */
export async function createToken(
  store: Tokens,
  clock: Clock,
  userId: number,
  input: CreateTokenInput,
): Promise<TokenView> {
  const row = await store.tokens.create({
    userId,
    name: input.name,
    key: randomAlphanumeric(48),
    status: TOKEN_STATUS.enabled,
    remainQuota: input.remain_quota ?? 0,
    unlimitedQuota: input.unlimited_quota ?? false,
    expiredTime: input.expired_time ?? -1,
    rateLimitPerMinute: input.rate_limit_per_minute ?? 0,
    createdTime: clock.now(),
    webhookSecret: newWebhookSecret(),
  });
  return view(row, true);
}

export async function listTokens(store: Tokens, userId: number, query: PageQuery): Promise<Page<TokenView>> {
  return listPage(
    query,
    (limit, offset) => store.tokens.list(userId, limit, offset),
    (r) => view(r, false),
  );
}

export interface UpdateTokenInput {
  id: number;
  name?: string | undefined;
  status?: 1 | 2 | undefined;
  remain_quota?: number | undefined;
  unlimited_quota?: boolean | undefined;
  expired_time?: number | undefined;
  rate_limit_per_minute?: number | undefined;
  /** Replace the webhook secret; the answer then carries the new one in full. */
  rotate_webhook_secret?: boolean | undefined;
}

export async function updateToken(
  store: Tokens,
  clock: Clock,
  userId: number,
  input: UpdateTokenInput,
): Promise<TokenView> {
  const set: TokenPatch = {};
  if (input.name !== undefined) set.name = input.name;
  if (input.status !== undefined) set.status = input.status;
  if (input.remain_quota !== undefined) set.remainQuota = input.remain_quota;
  if (input.unlimited_quota !== undefined) set.unlimitedQuota = input.unlimited_quota;
  if (input.expired_time !== undefined) set.expiredTime = input.expired_time;
  if (input.rate_limit_per_minute !== undefined) set.rateLimitPerMinute = input.rate_limit_per_minute;
  const rotate = input.rotate_webhook_secret === true;
  // The outgoing secret keeps signing beside the new one for 24 h (SPEC §15): receivers switch without losing a delivery.
  if (rotate) set.rotateWebhookSecret = { secret: newWebhookSecret(), now: clock.now() };
  const row = await store.tokens.update(userId, input.id, set);
  if (!row) throw new AppError('NOT_FOUND', `token ${input.id} not found`);
  return view(row, false, rotate);
}

export async function deleteToken(store: Tokens, userId: number, id: number): Promise<{ id: number }> {
  if (!(await store.tokens.delete(userId, id))) throw new AppError('NOT_FOUND', `token ${id} not found`);
  return { id };
}
