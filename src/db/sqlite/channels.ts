import { and, count, desc, eq, sql } from 'drizzle-orm';
import { CHANNEL_STATUS } from '../../contract/constants.ts';
import type { ChannelPatch, NewChannel } from '../../contract/management.ts';
import type { ChannelRow } from '../../contract/rows.ts';
import type { DB } from '../client.ts';
import { perConnection } from '../prepared.ts';
import { channels } from '../schema/index.ts';

/** The channel reads of every submit and image request, prepared once per connection. */
function buildStatements(db: DB) {
  return {
    byId: db
      .select()
      .from(channels)
      .where(eq(channels.id, sql.placeholder('id')))
      .prepare(),
    enabled: db.select().from(channels).where(eq(channels.status, CHANNEL_STATUS.enabled)).prepare(),
    baseUrls: db.select({ baseUrl: channels.baseUrl }).from(channels).prepare(),
    endpoints: db.select({ id: channels.id, baseUrl: channels.baseUrl, key: channels.key }).from(channels).prepare(),
  };
}
const statements = perConnection(buildStatements);

export function sqliteChannels(db: DB) {
  const { byId, enabled, baseUrls, endpoints } = statements(db);
  return {
    async endpoints(): Promise<Array<Pick<ChannelRow, 'id' | 'baseUrl' | 'key'>>> {
      return endpoints.all();
    },
    async baseUrls(): Promise<string[]> {
      return baseUrls.all().map((r) => r.baseUrl);
    },
    async byId(id: number): Promise<ChannelRow | null> {
      return byId.get({ id }) ?? null;
    },
    async enabled(): Promise<ChannelRow[]> {
      return enabled.all();
    },
    async create(channel: NewChannel): Promise<ChannelRow> {
      return db.insert(channels).values(channel).returning().get();
    },
    async update(id: number, patch: ChannelPatch): Promise<ChannelRow | null> {
      const row = Object.keys(patch).length
        ? db.update(channels).set(patch).where(eq(channels.id, id)).returning().get()
        : byId.get({ id });
      return row ?? null;
    },
    async delete(id: number): Promise<boolean> {
      return db.delete(channels).where(eq(channels.id, id)).returning({ id: channels.id }).get() !== undefined;
    },
    /** Enabled → auto-disabled (upstream code 3), unless an admin already disabled it. */
    async autoDisable(id: number): Promise<void> {
      db.update(channels)
        .set({ status: CHANNEL_STATUS.autoDisabled })
        .where(and(eq(channels.id, id), eq(channels.status, CHANNEL_STATUS.enabled)))
        .run();
    },
    async list(limit: number, offset: number): Promise<{ rows: ChannelRow[]; total: number }> {
      const rows = db.select().from(channels).orderBy(desc(channels.id)).limit(limit).offset(offset).all();
      const total = db.select({ n: count() }).from(channels).get()?.n ?? 0;
      return { rows, total };
    },
  };
}
