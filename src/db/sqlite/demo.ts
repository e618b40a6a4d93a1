import { and, asc, eq, sql } from 'drizzle-orm';
import { CHANNEL_STATUS, ROLE, TOKEN_STATUS } from '../../contract/constants.ts';
import type { DemoSetupInput } from '../../contract/management.ts';
import type { DB } from '../client.ts';
import { channels, tasks, tokens, users } from '../schema/index.ts';
import type { Tx } from '../types.ts';
import { grantQuotaLogged } from './users.ts';

/**
 * The demo's stored media links name the simulator's address. When it moves (its port was busy),
 * the links of the channel's tasks follow, so the forwarder fetches the simulator, which kept the
 * tasks, instead of an address that is no channel's any more (the SSRF guard refuses those).
 */
function moveMediaLinks(tx: Tx, channelId: number, from: string, to: string): void {
  const prefix = `${from}/`;
  const moved = (column: typeof tasks.imageUrl | typeof tasks.videoUrl) =>
    sql`${to} || substr(${column}, ${from.length + 1})`;
  const startsWithOld = (column: typeof tasks.imageUrl | typeof tasks.videoUrl) =>
    sql`substr(${column}, 1, ${prefix.length}) = ${prefix}`;
  tx.update(tasks)
    .set({ imageUrl: moved(tasks.imageUrl) })
    .where(and(eq(tasks.channelId, channelId), startsWithOld(tasks.imageUrl)))
    .run();
  tx.update(tasks)
    .set({ videoUrl: moved(tasks.videoUrl) })
    .where(and(eq(tasks.channelId, channelId), startsWithOld(tasks.videoUrl)))
    .run();
}

export function sqliteDemo(db: DB) {
  return {
    async ensure(input: DemoSetupInput) {
      return db.transaction(
        (tx) => {
          // Root first: without one nothing is written.
          const root = tx
            .select({ id: users.id, accessToken: users.accessToken })
            .from(users)
            .where(eq(users.role, ROLE.root))
            .orderBy(asc(users.id))
            .get();
          if (!root) return null;
          const { name, baseUrl, now } = input;
          const existing = tx
            .select({ id: channels.id, baseUrl: channels.baseUrl })
            .from(channels)
            .where(eq(channels.name, name))
            .orderBy(asc(channels.id))
            .get();
          const movedFrom = existing && existing.baseUrl !== baseUrl ? existing.baseUrl : null;
          const channelId = existing
            ? (tx
                .update(channels)
                .set({ baseUrl, key: input.channelKey, status: CHANNEL_STATUS.enabled })
                .where(eq(channels.id, existing.id))
                .returning({ id: channels.id })
                .get()?.id ?? existing.id)
            : tx
                .insert(channels)
                .values({
                  name,
                  baseUrl,
                  key: input.channelKey,
                  status: CHANNEL_STATUS.enabled,
                  priority: 0,
                  weight: 1,
                  createdTime: now,
                })
                .returning({ id: channels.id })
                .get().id;
          if (movedFrom !== null) moveMediaLinks(tx, channelId, movedFrom, baseUrl);

          const token = tx
            .select()
            .from(tokens)
            .where(and(eq(tokens.userId, root.id), eq(tokens.name, name)))
            .orderBy(asc(tokens.id))
            .get();
          if (token) {
            if (
              token.status !== TOKEN_STATUS.enabled ||
              !token.unlimitedQuota ||
              token.expiredTime !== -1 ||
              token.webhookSecret === ''
            ) {
              tx.update(tokens)
                .set({
                  status: TOKEN_STATUS.enabled,
                  unlimitedQuota: true,
                  expiredTime: -1,
                  // A demo key made before webhooks existed gets its signing secret now.
                  webhookSecret: token.webhookSecret || input.newWebhookSecret,
                })
                .where(eq(tokens.id, token.id))
                .run();
            }
            return {
              channelId,
              rootId: root.id,
              rootAccessToken: root.accessToken,
              apiKey: token.key,
              created: false,
              movedFrom,
            };
          }
          tx.insert(tokens)
            .values({
              userId: root.id,
              name,
              key: input.newApiKey,
              status: TOKEN_STATUS.enabled,
              remainQuota: 0,
              unlimitedQuota: true,
              expiredTime: -1,
              createdTime: now,
              webhookSecret: input.newWebhookSecret,
            })
            .run();
          grantQuotaLogged(tx, root.id, input.rootQuota, input.grantWhy, now);
          return {
            channelId,
            rootId: root.id,
            rootAccessToken: root.accessToken,
            apiKey: input.newApiKey,
            created: true,
            movedFrom,
          };
        },
        { behavior: 'immediate' },
      ); // reads before it writes: wait for the write lock, never a stale snapshot
    },
  };
}
