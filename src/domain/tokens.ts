import { and, count, desc, eq } from 'drizzle-orm';
import type { DB } from '../db/client.ts';
import { TOKEN_STATUS, tokens, type TokenRow } from '../db/schema/index.ts';
import type { Clock } from '../lib/clock.ts';
import { maskSecret, randomAlphanumeric } from '../lib/ids.ts';
import { AppError } from './errors.ts';
import { type Page, type PageQuery, pageOf } from './pagination.ts';

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
  return secret.startsWith(WEBHOOK_SECRET_PREFIX) ? `${WEBHOOK_SECRET_PREFIX}${maskSecret(secret.slice(WEBHOOK_SECRET_PREFIX.length))}` : maskSecret(secret);
}

function view(row: TokenRow, fullKey: boolean, fullSecret = fullKey): TokenView {
  return {
    id: row.id, user_id: row.userId, name: row.name,
    key: fullKey ? `sk-${row.key}` : `sk-${maskSecret(row.key)}`,
    status: row.status, remain_quota: row.remainQuota, unlimited_quota: row.unlimitedQuota,
    used_quota: row.usedQuota, expired_time: row.expiredTime, created_time: row.createdTime,
    accessed_time: row.accessedTime, rate_limit_per_minute: row.rateLimitPerMinute,
    webhook_secret: fullSecret ? row.webhookSecret : maskWebhookSecret(row.webhookSecret),
  };
}

export function toApiToken(row: TokenRow): ApiToken {
  return {
    id: row.id, userId: row.userId, name: row.name, status: row.status, remainQuota: row.remainQuota,
    unlimitedQuota: row.unlimitedQuota, expiredTime: row.expiredTime, rateLimitPerMinute: row.rateLimitPerMinute,
  };
}

export function findTokenByKey(db: DB, key: string): TokenRow | null {
  return db.select().from(tokens).where(eq(tokens.key, key)).get() ?? null;
}

/** Stamp accessed_time, at most once a minute per key so the hot path rarely writes. */
export function touchToken(db: DB, row: TokenRow, now: number): void {
  if (now - row.accessedTime < 60_000) return;
  db.update(tokens).set({ accessedTime: now }).where(eq(tokens.id, row.id)).run();
}

export interface CreateTokenInput {
  name: string;
  remain_quota?: number | undefined;
  unlimited_quota?: boolean | undefined;
  expired_time?: number | undefined;
  rate_limit_per_minute?: number | undefined;
}

/** New API key: 48 random alphanumerics, returned in full only here. */
export function createToken(db: DB, clock: Clock, userId: number, input: CreateTokenInput): TokenView {
  const row = db.insert(tokens).values({
    userId, name: input.name, key: randomAlphanumeric(48), status: TOKEN_STATUS.enabled,
    remainQuota: input.remain_quota ?? 0, unlimitedQuota: input.unlimited_quota ?? false,
    expiredTime: input.expired_time ?? -1, rateLimitPerMinute: input.rate_limit_per_minute ?? 0, createdTime: clock.now(), webhookSecret: newWebhookSecret(),
  }).returning().get();
  return view(row, true);
}

export function listTokens(db: DB, userId: number, query: PageQuery): Page<TokenView> {
  const { page, pageSize, offset } = pageOf(query);
  const rows = db.select().from(tokens).where(eq(tokens.userId, userId)).orderBy(desc(tokens.id))
    .limit(pageSize).offset(offset).all();
  const total = db.select({ n: count() }).from(tokens).where(eq(tokens.userId, userId)).get()?.n ?? 0;
  return { items: rows.map((r) => view(r, false)), total, page, page_size: pageSize };
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

export function updateToken(db: DB, userId: number, input: UpdateTokenInput): TokenView {
  const set: Partial<TokenRow> = {};
  if (input.name !== undefined) set.name = input.name;
  if (input.status !== undefined) set.status = input.status;
  if (input.remain_quota !== undefined) set.remainQuota = input.remain_quota;
  if (input.unlimited_quota !== undefined) set.unlimitedQuota = input.unlimited_quota;
  if (input.expired_time !== undefined) set.expiredTime = input.expired_time;
  if (input.rate_limit_per_minute !== undefined) set.rateLimitPerMinute = input.rate_limit_per_minute;
  const rotate = input.rotate_webhook_secret === true;
  if (rotate) set.webhookSecret = newWebhookSecret();
  const where = and(eq(tokens.id, input.id), eq(tokens.userId, userId));
  const row = Object.keys(set).length
    ? db.update(tokens).set(set).where(where).returning().get()
    : db.select().from(tokens).where(where).get();
  if (!row) throw new AppError('NOT_FOUND', `token ${input.id} not found`);
  return view(row, false, rotate);
}

export function deleteToken(db: DB, userId: number, id: number): { id: number } {
  const row = db.delete(tokens).where(and(eq(tokens.id, id), eq(tokens.userId, userId))).returning({ id: tokens.id }).get();
  if (!row) throw new AppError('NOT_FOUND', `token ${id} not found`);
  return row;
}
