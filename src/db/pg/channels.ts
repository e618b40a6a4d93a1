import { CHANNEL_STATUS } from '../../contract/constants.ts';
import type { ChannelPatch, NewChannel } from '../../contract/management.ts';
import type { ChannelRow } from '../../contract/rows.ts';
import type { PgDB } from './client.ts';

const CHANNEL_COLUMNS = `id, name, base_url AS "baseUrl", key, status, priority, weight, used_quota AS "usedQuota",
  created_time AS "createdTime"`;

const orNull = <T>(v: T | undefined): T | null => (v === undefined ? null : v);

/**
 * Channels on PostgreSQL, with the semantics of src/db/sqlite/channels.ts. The unordered reads
 * of SQLite come back in rowid order; here `ORDER BY id` gives the same order on purpose.
 */
export function pgChannels(db: PgDB) {
  const sql = db.$client;
  const cols = () => sql.unsafe(CHANNEL_COLUMNS);
  async function byId(id: number): Promise<ChannelRow | null> {
    const [row] = await sql<ChannelRow[]>`SELECT ${cols()} FROM channels WHERE id = ${id}::bigint`;
    return row ?? null;
  }
  return {
    async endpoints(): Promise<Array<Pick<ChannelRow, 'id' | 'baseUrl' | 'key'>>> {
      return sql<
        Array<Pick<ChannelRow, 'id' | 'baseUrl' | 'key'>>
      >`SELECT id, base_url AS "baseUrl", key FROM channels ORDER BY id`;
    },
    async baseUrls(): Promise<string[]> {
      const rows = await sql<Array<{ baseUrl: string }>>`SELECT base_url AS "baseUrl" FROM channels ORDER BY id`;
      return rows.map((r) => r.baseUrl);
    },
    byId,
    async enabled(): Promise<ChannelRow[]> {
      return sql<
        ChannelRow[]
      >`SELECT ${cols()} FROM channels WHERE status = ${CHANNEL_STATUS.enabled}::int ORDER BY id`;
    },
    async create(c: NewChannel): Promise<ChannelRow> {
      const [row] = await sql<ChannelRow[]>`
        INSERT INTO channels (name, base_url, key, status, priority, weight, created_time)
        VALUES (${c.name}::text, ${c.baseUrl}::text, ${c.key}::text, ${c.status}::int, ${c.priority}::int, ${c.weight}::int,
          ${c.createdTime}::bigint)
        RETURNING ${cols()}`;
      return row!;
    },
    async update(id: number, p: ChannelPatch): Promise<ChannelRow | null> {
      if (Object.keys(p).length === 0) return byId(id);
      const [row] = await sql<ChannelRow[]>`
        UPDATE channels SET name = coalesce(${orNull(p.name)}::text, name), base_url = coalesce(${orNull(p.baseUrl)}::text, base_url),
          key = coalesce(${orNull(p.key)}::text, key), priority = coalesce(${orNull(p.priority)}::int, priority),
          weight = coalesce(${orNull(p.weight)}::int, weight), status = coalesce(${orNull(p.status)}::int, status)
        WHERE id = ${id}::bigint RETURNING ${cols()}`;
      return row ?? null;
    },
    async delete(id: number): Promise<boolean> {
      const rows = await sql`DELETE FROM channels WHERE id = ${id}::bigint RETURNING id`;
      return rows.length > 0;
    },
    async autoDisable(id: number): Promise<void> {
      await sql`UPDATE channels SET status = ${CHANNEL_STATUS.autoDisabled}::int WHERE id = ${id}::bigint AND status = ${CHANNEL_STATUS.enabled}::int`;
    },
    async list(limit: number, offset: number): Promise<{ rows: ChannelRow[]; total: number }> {
      const [rows, [count]] = await Promise.all([
        sql<ChannelRow[]>`SELECT ${cols()} FROM channels ORDER BY id DESC LIMIT ${limit}::int OFFSET ${offset}::bigint`,
        sql<Array<{ n: number }>>`SELECT count(*)::int AS n FROM channels`,
      ]);
      return { rows, total: count?.n ?? 0 };
    },
  };
}
