/**
 * The rows the stores take and give, as plain TypeScript: the shape of a table's row in every
 * dialect (times in ms, quotas as numbers). Written here, not derived from either Drizzle schema,
 * so the domain compiles against no adapter; tests/unit/contract-rows.test.ts checks that each
 * schema's $inferSelect (and the tasks' $inferInsert) is assignable to and from these, so they
 * cannot drift apart. Object types, not interfaces: a row read as `Record<string, unknown>` fits them.
 */

export type UserRow = {
  id: number;
  username: string;
  displayName: string;
  role: number;
  status: number;
  accessToken: string | null;
  quota: number;
  usedQuota: number;
  requestCount: number;
  createdTime: number;
};

export type TokenRow = {
  id: number;
  userId: number;
  name: string;
  key: string;
  status: number;
  remainQuota: number;
  unlimitedQuota: boolean;
  usedQuota: number;
  expiredTime: number;
  createdTime: number;
  accessedTime: number;
  /** Signs this key's webhook deliveries (`whsec_` + 32 alphanumerics). */
  webhookSecret: string;
  /** The secret before the last rotation: deliveries are signed with it too for 24 h after (SPEC §15). */
  previousWebhookSecret: string | null;
  /** When the secret was last rotated (ms); null when it never was. */
  webhookSecretRotatedAt: number | null;
  /** Relay submits allowed per minute; 0 = the RELAY_RATE_LIMIT_PER_MINUTE default. */
  rateLimitPerMinute: number;
};

export type ChannelRow = {
  id: number;
  name: string;
  baseUrl: string;
  key: string;
  status: number;
  priority: number;
  weight: number;
  usedQuota: number;
  createdTime: number;
};

/** Billing and system events (LOG_TYPE); append-only. */
export type LogRow = {
  id: number;
  userId: number;
  type: number;
  content: string;
  quota: number;
  modelName: string;
  channelId: number;
  tokenId: number;
  mjId: string;
  /** The local task id; 0 for none. */
  taskId: number;
  createdTime: number;
};

/** One submission. */
export type TaskRow = {
  id: number;
  userId: number;
  tokenId: number;
  channelId: number;
  code: number;
  action: string;
  mjId: string;
  prompt: string;
  promptEn: string;
  description: string;
  state: string;
  submitTime: number;
  startTime: number;
  finishTime: number;
  imageUrl: string;
  videoUrl: string;
  videoUrls: string;
  status: string;
  progress: string;
  failReason: string;
  quota: number;
  buttons: string;
  properties: string;
  updatedTime: number;
};

/** A task to insert: the owner, and any other column (the rest take their defaults). */
export type NewTaskRow = { userId: number } & { [K in Exclude<keyof TaskRow, 'userId'>]?: TaskRow[K] | undefined };

/** One webhook delivery of the outbox. */
export type DeliveryRow = {
  id: number;
  taskId: number;
  userId: number;
  tokenId: number;
  mjId: string;
  url: string;
  /** `host:port` of the URL (lib/webhook-receiver.ts); '' on rows older than it. */
  receiver: string;
  /** The task in the fetch shape at the time of the change (JSON text). */
  payload: string;
  /** A DELIVERY_STATUS value. */
  status: string;
  attempts: number;
  nextAttemptAt: number;
  lastError: string;
  createdTime: number;
  deliveredTime: number;
};
