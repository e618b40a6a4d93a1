import { and, count, desc, eq, sql } from 'drizzle-orm';
import type { DB } from '../db/client.ts';
import { CHANNEL_STATUS, channels, type ChannelRow } from '../db/schema/index.ts';
import type { Clock } from '../lib/clock.ts';
import { maskSecret } from '../lib/ids.ts';
import { AppError } from './errors.ts';
import { type Page, type PageQuery, pageOf } from './pagination.ts';

export type Channel = ChannelRow;

/** A channel as admins see it: the key is masked everywhere except where it was typed in. */
export interface ChannelView {
  id: number;
  name: string;
  base_url: string;
  key: string;
  status: number;
  priority: number;
  weight: number;
  used_quota: number;
  created_time: number;
}

export function channelView(c: ChannelRow): ChannelView {
  return {
    id: c.id, name: c.name, base_url: c.baseUrl, key: maskSecret(c.key), status: c.status,
    priority: c.priority, weight: c.weight, used_quota: c.usedQuota, created_time: c.createdTime,
  };
}

/** Where a channel is reached and with which key. */
export interface ChannelEndpoint {
  id: number;
  baseUrl: string;
  key: string;
}

/** Every channel (any status) by id: the poller's targets and the image forwarder's trusted hosts. */
export function channelEndpoints(db: DB): Map<number, ChannelEndpoint> {
  const rows = db.select({ id: channels.id, baseUrl: channels.baseUrl, key: channels.key }).from(channels).all();
  return new Map(rows.map((c) => [c.id, c]));
}

export function getChannel(db: DB, id: number): Channel | null {
  return channelStatements(db).byId.get({ id }) ?? null;
}

/** Trailing slashes would double up when paths are appended. */
export function normaliseBaseUrl(url: string): string {
  return url.trim().replace(/\/+$/, '');
}

/** The channel reads of every submit, prepared once per connection. */
function buildChannelStatements(db: DB) {
  return {
    byId: db.select().from(channels).where(eq(channels.id, sql.placeholder('id'))).prepare(),
    enabled: db.select().from(channels).where(eq(channels.status, CHANNEL_STATUS.enabled)).prepare(),
  };
}
const channelStatementCache = new WeakMap<DB, ReturnType<typeof buildChannelStatements>>();

function channelStatements(db: DB) {
  let s = channelStatementCache.get(db);
  if (!s) channelStatementCache.set(db, (s = buildChannelStatements(db)));
  return s;
}

/**
 * Pick an enabled channel for a new job: the highest priority wins, and inside it a random
 * channel with probability proportional to its weight (weight 0 only when all are 0). Channels in
 * `exclude` (those a failing-over submit already tried) are not candidates.
 */
export function pickChannel(db: DB, random: () => number = Math.random, exclude: ReadonlySet<number> = new Set()): Channel | null {
  const enabled = channelStatements(db).enabled.all().filter((c) => !exclude.has(c.id));
  if (enabled.length === 0) return null;
  const top = Math.max(...enabled.map((c) => c.priority));
  const tier = enabled.filter((c) => c.priority === top);
  const total = tier.reduce((s, c) => s + Math.max(0, c.weight), 0);
  if (total <= 0) return tier[Math.floor(random() * tier.length)] ?? tier[0] ?? null;
  let r = random() * total;
  for (const c of tier) {
    r -= Math.max(0, c.weight);
    if (r < 0) return c;
  }
  return tier[tier.length - 1] ?? null;
}

export interface CreateChannelInput {
  name: string;
  base_url: string;
  key: string;
  priority?: number | undefined;
  weight?: number | undefined;
  status?: 1 | 2 | 3 | undefined;
}

export function createChannel(db: DB, clock: Clock, input: CreateChannelInput): ChannelView {
  const row = db.insert(channels).values({
    name: input.name, baseUrl: normaliseBaseUrl(input.base_url), key: input.key,
    priority: input.priority ?? 0, weight: input.weight ?? 1, status: input.status ?? CHANNEL_STATUS.enabled,
    createdTime: clock.now(),
  }).returning().get();
  return channelView(row);
}

export type UpdateChannelInput = Partial<CreateChannelInput> & { id: number };

export function updateChannel(db: DB, input: UpdateChannelInput): ChannelView {
  const set: Partial<ChannelRow> = {};
  if (input.name !== undefined) set.name = input.name;
  if (input.base_url !== undefined) set.baseUrl = normaliseBaseUrl(input.base_url);
  if (input.key !== undefined) set.key = input.key;
  if (input.priority !== undefined) set.priority = input.priority;
  if (input.weight !== undefined) set.weight = input.weight;
  if (input.status !== undefined) set.status = input.status;
  const row = Object.keys(set).length
    ? db.update(channels).set(set).where(eq(channels.id, input.id)).returning().get()
    : getChannel(db, input.id);
  if (!row) throw new AppError('NOT_FOUND', `channel ${input.id} not found`);
  return channelView(row);
}

/** Deleting is allowed while tasks reference the channel; the poller fails and refunds them. */
export function deleteChannel(db: DB, id: number): { id: number } {
  const row = db.delete(channels).where(eq(channels.id, id)).returning({ id: channels.id }).get();
  if (!row) throw new AppError('NOT_FOUND', `channel ${id} not found`);
  return row;
}

/** Mark a channel auto-disabled (upstream code 3), unless an admin already disabled it. */
export function autoDisableChannel(db: DB, id: number): void {
  db.update(channels).set({ status: CHANNEL_STATUS.autoDisabled })
    .where(and(eq(channels.id, id), eq(channels.status, CHANNEL_STATUS.enabled))).run();
}

export function listChannels(db: DB, query: PageQuery): Page<ChannelView> {
  const { page, pageSize, offset } = pageOf(query);
  const rows = db.select().from(channels).orderBy(desc(channels.id)).limit(pageSize).offset(offset).all();
  const total = db.select({ n: count() }).from(channels).get()?.n ?? 0;
  return { items: rows.map(channelView), total, page, page_size: pageSize };
}
