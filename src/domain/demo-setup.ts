import { and, asc, eq, sql } from 'drizzle-orm';
import type { DB } from '../db/client.ts';
import { CHANNEL_STATUS, ROLE, TOKEN_STATUS, channels, tasks, tokens, users } from '../db/schema/index.ts';
import type { Clock } from '../lib/clock.ts';
import { randomAlphanumeric } from '../lib/ids.ts';
import { AppError } from './errors.ts';
import { newWebhookSecret } from './tokens.ts';
import { normaliseBaseUrl } from './channels.ts';
import { grantQuotaLogged } from './users.ts';

/** Name of the channel and of the API key that DEMO mode owns. */
export const DEMO_NAME = 'demo';
/** Quota given to root the first time the demo key is made: 100 USD. */
export const DEMO_ROOT_QUOTA = 50_000_000;

export interface DemoSetup {
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

/**
 * The demo's stored media links name the simulator's address. When it moves (its port was busy),
 * the links of the channel's tasks follow, so the forwarder fetches the simulator, which kept the
 * tasks, instead of an address that is no channel's any more (the SSRF guard refuses those).
 */
function moveMediaLinks(tx: Parameters<Parameters<DB['transaction']>[0]>[0], channelId: number, from: string, to: string): void {
  const prefix = `${from}/`;
  const moved = (column: typeof tasks.imageUrl | typeof tasks.videoUrl) => sql`${to} || substr(${column}, ${from.length + 1})`;
  const startsWithOld = (column: typeof tasks.imageUrl | typeof tasks.videoUrl) => sql`substr(${column}, 1, ${prefix.length}) = ${prefix}`;
  tx.update(tasks).set({ imageUrl: moved(tasks.imageUrl) })
    .where(and(eq(tasks.channelId, channelId), startsWithOld(tasks.imageUrl))).run();
  tx.update(tasks).set({ videoUrl: moved(tasks.videoUrl) })
    .where(and(eq(tasks.channelId, channelId), startsWithOld(tasks.videoUrl))).run();
}

/**
 * Register (or refresh) channel `demo` to point at the in-process simulator, and make sure root
 * has an enabled, unlimited API key named `demo`; the first time, root also gets some quota. One
 * transaction, so a restart never sees half of it and never grants the quota twice.
 */
export function ensureDemoSetup(db: DB, clock: Clock, baseUrl: string, key: string): DemoSetup {
  return db.transaction((tx) => {
    const now = clock.now();
    const base = normaliseBaseUrl(baseUrl);
    const existing = tx.select({ id: channels.id, baseUrl: channels.baseUrl }).from(channels)
      .where(eq(channels.name, DEMO_NAME)).orderBy(asc(channels.id)).get();
    const movedFrom = existing && existing.baseUrl !== base ? existing.baseUrl : null;
    const channelId = existing
      ? tx.update(channels).set({ baseUrl: base, key, status: CHANNEL_STATUS.enabled })
        .where(eq(channels.id, existing.id)).returning({ id: channels.id }).get()?.id ?? existing.id
      : tx.insert(channels).values({
        name: DEMO_NAME, baseUrl: base, key, status: CHANNEL_STATUS.enabled, priority: 0, weight: 1, createdTime: now,
      }).returning({ id: channels.id }).get().id;
    if (movedFrom !== null) moveMediaLinks(tx, channelId, movedFrom, base);

    const root = tx.select({ id: users.id, accessToken: users.accessToken }).from(users)
      .where(eq(users.role, ROLE.root)).orderBy(asc(users.id)).get();
    if (!root) throw new AppError('NOT_FOUND', 'no root user to give the demo API key to');

    const token = tx.select().from(tokens).where(and(eq(tokens.userId, root.id), eq(tokens.name, DEMO_NAME)))
      .orderBy(asc(tokens.id)).get();
    if (token) {
      if (token.status !== TOKEN_STATUS.enabled || !token.unlimitedQuota || token.expiredTime !== -1 || token.webhookSecret === '') {
        tx.update(tokens).set({
          status: TOKEN_STATUS.enabled, unlimitedQuota: true, expiredTime: -1,
          // A demo key made before webhooks existed gets its signing secret now.
          webhookSecret: token.webhookSecret || newWebhookSecret(),
        }).where(eq(tokens.id, token.id)).run();
      }
      return { channelId, rootId: root.id, rootAccessToken: root.accessToken, apiKey: token.key, created: false, movedFrom };
    }
    const apiKey = randomAlphanumeric(48);
    tx.insert(tokens).values({
      userId: root.id, name: DEMO_NAME, key: apiKey, status: TOKEN_STATUS.enabled, remainQuota: 0,
      unlimitedQuota: true, expiredTime: -1, createdTime: now, webhookSecret: newWebhookSecret(),
    }).run();
    grantQuotaLogged(tx, root.id, DEMO_ROOT_QUOTA, 'demo starting quota', now);
    return { channelId, rootId: root.id, rootAccessToken: root.accessToken, apiKey, created: true, movedFrom };
  }, { behavior: 'immediate' }); // reads before it writes: wait for the write lock, never a stale snapshot
}
