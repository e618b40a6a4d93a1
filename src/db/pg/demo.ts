import type { TransactionSql } from 'postgres';
import { CHANNEL_STATUS, ROLE, TOKEN_STATUS } from '../../contract/constants.ts';
import type { DemoSetupInput, DemoSetupRow } from '../../contract/management.ts';
import type { PgDB } from './client.ts';
import { grantQuotaLoggedPg } from './money.ts';

/** Any constant shared by every replica: the transaction lock around the demo set-up. */
const DEMO_LOCK_KEY = 0x6d6a6464; // "mjdd"

/**
 * The demo's stored media links name the simulator's address; when it moves, the links of the
 * channel's tasks follow (see src/db/sqlite/demo.ts).
 */
async function moveMediaLinks(tx: TransactionSql, channelId: number, from: string, to: string): Promise<void> {
  const prefix = `${from}/`;
  const cut = from.length + 1;
  await tx`UPDATE tasks SET image_url = ${to}::text || substr(image_url, ${cut}::int)
    WHERE channel_id = ${channelId}::int AND substr(image_url, 1, ${prefix.length}::int) = ${prefix}::text`;
  await tx`UPDATE tasks SET video_url = ${to}::text || substr(video_url, ${cut}::int)
    WHERE channel_id = ${channelId}::int AND substr(video_url, 1, ${prefix.length}::int) = ${prefix}::text`;
}

interface DemoToken {
  id: number;
  key: string;
  status: number;
  unlimitedQuota: boolean;
  expiredTime: number;
  webhookSecret: string;
}

/** The demo set-up on PostgreSQL, with the semantics of src/db/sqlite/demo.ts. */
export function pgDemo(db: PgDB) {
  const sql = db.$client;
  return {
    async ensure(input: DemoSetupInput): Promise<DemoSetupRow | null> {
      return sql.begin(async (tx): Promise<DemoSetupRow | null> => {
        // Replicas starting together queue here: the next one then finds the channel and the key
        // the first committed (each statement after the lock reads a fresh snapshot), so neither
        // is made twice and root is granted once.
        await tx`SELECT pg_advisory_xact_lock(${DEMO_LOCK_KEY}::bigint)`;
        const [root] = await tx<Array<{ id: number; accessToken: string | null }>>`
          SELECT id, access_token AS "accessToken" FROM users WHERE role = ${ROLE.root}::int ORDER BY id LIMIT 1`;
        if (!root) return null;
        const { name, baseUrl, now } = input;
        const [existing] = await tx<Array<{ id: number; baseUrl: string }>>`
          SELECT id, base_url AS "baseUrl" FROM channels WHERE name = ${name}::text ORDER BY id LIMIT 1`;
        const movedFrom = existing && existing.baseUrl !== baseUrl ? existing.baseUrl : null;
        let channelId: number;
        if (existing) {
          await tx`UPDATE channels SET base_url = ${baseUrl}::text, key = ${input.channelKey}::text, status = ${CHANNEL_STATUS.enabled}::int
            WHERE id = ${existing.id}::int`;
          channelId = existing.id;
        } else {
          const [row] = await tx<Array<{ id: number }>>`
            INSERT INTO channels (name, base_url, key, status, priority, weight, created_time)
            VALUES (${name}::text, ${baseUrl}::text, ${input.channelKey}::text, ${CHANNEL_STATUS.enabled}::int, 0, 1, ${now}::bigint) RETURNING id`;
          channelId = row!.id;
        }
        if (movedFrom !== null) await moveMediaLinks(tx, channelId, movedFrom, baseUrl);

        const [token] = await tx<DemoToken[]>`
          SELECT id, key, status, unlimited_quota AS "unlimitedQuota", expired_time AS "expiredTime", webhook_secret AS "webhookSecret"
          FROM tokens WHERE user_id = ${root.id}::int AND name = ${name}::text ORDER BY id LIMIT 1`;
        const done = { channelId, rootId: root.id, rootAccessToken: root.accessToken, movedFrom };
        if (token) {
          if (
            token.status !== TOKEN_STATUS.enabled ||
            !token.unlimitedQuota ||
            token.expiredTime !== -1 ||
            token.webhookSecret === ''
          ) {
            // A demo key made before webhooks existed gets its signing secret now.
            await tx`UPDATE tokens SET status = ${TOKEN_STATUS.enabled}::int, unlimited_quota = TRUE, expired_time = -1,
              webhook_secret = ${token.webhookSecret || input.newWebhookSecret}::text WHERE id = ${token.id}::int`;
          }
          return { ...done, apiKey: token.key, created: false };
        }
        await tx`INSERT INTO tokens (user_id, name, key, status, remain_quota, unlimited_quota, expired_time, created_time, webhook_secret)
          VALUES (${root.id}::int, ${name}::text, ${input.newApiKey}::text, ${TOKEN_STATUS.enabled}::int, 0, TRUE, -1, ${now}::bigint,
            ${input.newWebhookSecret}::text)`;
        await grantQuotaLoggedPg(tx, root.id, input.rootQuota, input.grantWhy, now);
        return { ...done, apiKey: input.newApiKey, created: true };
      });
    },
  };
}
