import { CHANNEL_STATUS } from '../contract/constants.ts';
import type { ChannelPatch, ManagementStore } from '../contract/index.ts';
import type { ChannelRow } from '../contract/rows.ts';
import type { Clock } from '../lib/clock.ts';
import { maskSecret } from '../lib/ids.ts';
import { AppError } from './errors.ts';
import { listPage, type Page, type PageQuery } from './pagination.ts';

type Channels = Pick<ManagementStore, 'channels'>;

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
    id: c.id,
    name: c.name,
    base_url: c.baseUrl,
    key: maskSecret(c.key),
    status: c.status,
    priority: c.priority,
    weight: c.weight,
    used_quota: c.usedQuota,
    created_time: c.createdTime,
  };
}

/** Where a channel is reached and with which key. */
export interface ChannelEndpoint {
  id: number;
  baseUrl: string;
  key: string;
}

/** Every channel (any status) by id: the poller's targets. */
export async function channelEndpoints(store: Channels): Promise<Map<number, ChannelEndpoint>> {
  const rows = await store.channels.endpoints();
  return new Map(rows.map((c) => [c.id, c]));
}

/** Trailing slashes would double up when paths are appended. */
export function normaliseBaseUrl(url: string): string {
  return url.trim().replace(/\/+$/, '');
}

/**
 * Pick among enabled channels for a new job: the highest priority wins, and inside it a random
 * channel with probability proportional to its weight (weight 0 only when all are 0). Channels in
 * `exclude` (those a failing-over submit already tried) are not candidates.
 */
export function chooseChannel(
  candidates: readonly Channel[],
  random: () => number = Math.random,
  exclude: ReadonlySet<number> = new Set(),
): Channel | null {
  const enabled = candidates.filter((c) => !exclude.has(c.id));
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

/** An enabled channel for a new job, chosen as chooseChannel does. */
export async function pickChannelFrom(
  store: Channels,
  random: () => number = Math.random,
  exclude: ReadonlySet<number> = new Set(),
): Promise<Channel | null> {
  return chooseChannel(await store.channels.enabled(), random, exclude);
}

export async function getChannelFrom(store: Channels, id: number): Promise<Channel | null> {
  return store.channels.byId(id);
}

export interface CreateChannelInput {
  name: string;
  base_url: string;
  key: string;
  priority?: number | undefined;
  weight?: number | undefined;
  status?: 1 | 2 | 3 | undefined;
}

export async function createChannel(store: Channels, clock: Clock, input: CreateChannelInput): Promise<ChannelView> {
  const row = await store.channels.create({
    name: input.name,
    baseUrl: normaliseBaseUrl(input.base_url),
    key: input.key,
    priority: input.priority ?? 0,
    weight: input.weight ?? 1,
    status: input.status ?? CHANNEL_STATUS.enabled,
    createdTime: clock.now(),
  });
  return channelView(row);
}

export type UpdateChannelInput = Partial<CreateChannelInput> & { id: number };

export async function updateChannel(store: Channels, input: UpdateChannelInput): Promise<ChannelView> {
  const set: ChannelPatch = {};
  if (input.name !== undefined) set.name = input.name;
  if (input.base_url !== undefined) set.baseUrl = normaliseBaseUrl(input.base_url);
  if (input.key !== undefined) set.key = input.key;
  if (input.priority !== undefined) set.priority = input.priority;
  if (input.weight !== undefined) set.weight = input.weight;
  if (input.status !== undefined) set.status = input.status;
  const row = await store.channels.update(input.id, set);
  if (!row) throw new AppError('NOT_FOUND', `channel ${input.id} not found`);
  return channelView(row);
}

/** Deleting is allowed while tasks reference the channel; the poller fails and refunds them. */
export async function deleteChannel(store: Channels, id: number): Promise<{ id: number }> {
  if (!(await store.channels.delete(id))) throw new AppError('NOT_FOUND', `channel ${id} not found`);
  return { id };
}

export async function listChannels(store: Channels, query: PageQuery): Promise<Page<ChannelView>> {
  return listPage(query, (limit, offset) => store.channels.list(limit, offset), channelView);
}
