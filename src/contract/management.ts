import type { DeliveryStatus } from './constants.ts';
import type { ChannelRow, LogRow, TokenRow, UserRow } from './rows.ts';

/**
 * What the management side of the domain (users, API keys, channels, options, logs, the webhook
 * delivery list, demo set-up, operator counts) needs from storage. Plain rows in, plain rows out:
 * an adapter per dialect (src/db/sqlite now, src/db/pg next) implements it, and the domain keeps
 * the rules (roles, masking, views, messages, AppErrors). Every method is async so that an
 * adapter that is async all the way (PostgreSQL) fits; SQLite's answers synchronously inside.
 */

/** One page of rows and the count of all rows the filter matches. */
export interface RowPage<Row> {
  rows: Row[];
  total: number;
}

/** A quota change that is logged: the signed delta goes to a system log row in the same transaction. */
export interface LoggedQuota {
  quota: number;
  /** Ends the log line, e.g. `by admin 1 (root)`. */
  who: string;
  now: number;
}

export type NewUser = Pick<UserRow, 'username' | 'displayName' | 'role' | 'status' | 'accessToken' | 'createdTime'>;
export type UserPatch = Partial<Pick<UserRow, 'status' | 'role' | 'displayName'>>;

export interface UserStore {
  byAccessToken(token: string): Promise<UserRow | null>;
  byId(id: number): Promise<UserRow | null>;
  /**
   * Insert user 1 as `root` with quota 0 when the table is empty; false when any user exists.
   * Processes starting together must not both insert (SQLite: an immediate transaction).
   */
  createRootIfEmpty(accessToken: string, now: number): Promise<boolean>;
  setAccessToken(id: number, token: string): Promise<void>;
  /** Insert a user with quota 0, then (when given) set its quota logged; null = the username is taken. */
  create(user: NewUser, quota: LoggedQuota | null): Promise<UserRow | null>;
  /**
   * Apply `patch` and (when given) a logged quota change in one transaction; the log row's delta
   * is computed by the database against the row as it is then. null = no such user.
   */
  update(id: number, patch: UserPatch, quota: LoggedQuota | null): Promise<UserRow | null>;
  /** Newest first. */
  list(limit: number, offset: number): Promise<RowPage<UserRow>>;
}

export type NewToken = Omit<
  TokenRow,
  'id' | 'usedQuota' | 'accessedTime' | 'previousWebhookSecret' | 'webhookSecretRotatedAt'
>;
export type TokenPatch = Partial<
  Pick<
    TokenRow,
    'name' | 'status' | 'remainQuota' | 'unlimitedQuota' | 'expiredTime' | 'rateLimitPerMinute' | 'webhookSecret'
  >
> & {
  /** A new webhook secret; the current one becomes the previous one, rotated at `now`, in the same statement (SPEC §15). */
  rotateWebhookSecret?: { secret: string; now: number };
};

export interface TokenStore {
  byKey(key: string): Promise<TokenRow | null>;
  /**
   * byKey with the owner's row (users.byId; null when it is gone), where one statement reads both
   * (PostgreSQL: one round trip on every relay request). Optional: without it, two reads.
   */
  byKeyWithUser?(key: string): Promise<{ token: TokenRow; user: UserRow | null } | null>;
  /** Stamp accessed_time (the caller decides how often). */
  touch(id: number, now: number): Promise<void>;
  create(token: NewToken): Promise<TokenRow>;
  /** One user's keys, newest first. */
  list(userId: number, limit: number, offset: number): Promise<RowPage<TokenRow>>;
  /** Apply `patch` to the user's key (an empty patch reads it); null = not that user's key. */
  update(userId: number, id: number, patch: TokenPatch): Promise<TokenRow | null>;
  /** false = not that user's key. */
  delete(userId: number, id: number): Promise<boolean>;
  /** The user's newest key that can pay now: enabled, not expired, unlimited or with quota left. */
  newestUsable(userId: number, now: number): Promise<TokenRow | null>;
}

export type NewChannel = Omit<ChannelRow, 'id' | 'usedQuota'>;
export type ChannelPatch = Partial<Pick<ChannelRow, 'name' | 'baseUrl' | 'key' | 'priority' | 'weight' | 'status'>>;
export type ChannelEndpointRow = Pick<ChannelRow, 'id' | 'baseUrl' | 'key'>;

export interface ChannelStore {
  /** Every channel, any status. */
  endpoints(): Promise<ChannelEndpointRow[]>;
  /** Every channel's base URL, any status (the image forwarder's trusted hosts). */
  baseUrls(): Promise<string[]>;
  byId(id: number): Promise<ChannelRow | null>;
  /** Channels with status enabled, for picking one. */
  enabled(): Promise<ChannelRow[]>;
  create(channel: NewChannel): Promise<ChannelRow>;
  /** An empty patch reads the row; null = no such channel. */
  update(id: number, patch: ChannelPatch): Promise<ChannelRow | null>;
  delete(id: number): Promise<boolean>;
  /** enabled → auto-disabled; a channel in any other status is left as it is. */
  autoDisable(id: number): Promise<void>;
  /** Newest first. */
  list(limit: number, offset: number): Promise<RowPage<ChannelRow>>;
}

export interface OptionRow {
  key: string;
  /** JSON text. */
  value: string;
}

export interface OptionRowStore {
  /** Every row, ordered by key (so two reads compare as text). */
  all(): Promise<OptionRow[]>;
  /** Insert the rows whose key is missing, all in one transaction; existing rows are kept. */
  insertMissing(rows: readonly OptionRow[]): Promise<void>;
  upsert(row: OptionRow): Promise<void>;
}

export interface LogFilter {
  type?: number | undefined;
  userId?: number | undefined;
}

export interface LogStore {
  /** Newest first. */
  list(filter: LogFilter, limit: number, offset: number): Promise<RowPage<LogRow>>;
}

/** A webhook delivery as the list shows it (never the payload). */
export interface DeliveryListRow {
  id: number;
  taskId: number;
  mjId: string;
  userId: number;
  url: string;
  status: DeliveryStatus;
  attempts: number;
  lastError: string;
  nextAttemptAt: number;
  createdTime: number;
  deliveredTime: number;
}

export interface DeliveryLogStore {
  /** Newest first: one user's deliveries, or everyone's (`userId` null). */
  list(userId: number | null, limit: number, offset: number): Promise<RowPage<DeliveryListRow>>;
}

/** What the DEMO set-up writes, decided by the domain (names, generated key and secret). */
export interface DemoSetupInput {
  name: string;
  baseUrl: string;
  channelKey: string;
  /** The API key to create when root has none named `name`. */
  newApiKey: string;
  /** A fresh webhook secret, used for a new key and for an old key that has none. */
  newWebhookSecret: string;
  /** Quota granted to root (logged) when the key is created. */
  rootQuota: number;
  grantWhy: string;
  now: number;
}

export interface DemoSetupRow {
  channelId: number;
  rootId: number;
  rootAccessToken: string | null;
  /** The demo API key, without `sk-`. */
  apiKey: string;
  /** True on the first start, when the key was created and root got the demo quota. */
  created: boolean;
  /** The channel's previous base URL when the simulator came up somewhere else this time. */
  movedFrom: string | null;
}

export interface DemoStore {
  /**
   * In one transaction: channel `name` points at `baseUrl` (its tasks' media links follow a
   * move), root's key `name` is enabled, unlimited and never expires; a new key brings root the
   * logged grant. null = there is no root user (and nothing was written).
   */
  ensure(input: DemoSetupInput): Promise<DemoSetupRow | null>;
}

export interface OperatorStatsStore {
  /** Unfinished tasks (progress not `100%`) per channel id. */
  unfinishedByChannel(): Promise<Array<{ channelId: number; count: number }>>;
}

export interface ManagementStore {
  users: UserStore;
  tokens: TokenStore;
  channels: ChannelStore;
  options: OptionRowStore;
  logs: LogStore;
  deliveryLog: DeliveryLogStore;
  demo: DemoStore;
  operatorStats: OperatorStatsStore;
}
