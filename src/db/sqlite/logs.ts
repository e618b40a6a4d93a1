import { and, count, desc, eq, type SQL } from 'drizzle-orm';
import type { LogRow } from '../../contract/rows.ts';
import type { DB } from '../client.ts';
import { logs } from '../schema/index.ts';

export function sqliteLogs(db: DB) {
  return {
    async list(
      filter: { type?: number | undefined; userId?: number | undefined },
      limit: number,
      offset: number,
    ): Promise<{ rows: LogRow[]; total: number }> {
      const parts: SQL[] = [];
      if (filter.type !== undefined) parts.push(eq(logs.type, filter.type));
      if (filter.userId !== undefined) parts.push(eq(logs.userId, filter.userId));
      const where = parts.length ? and(...parts) : undefined;
      const rows = db.select().from(logs).where(where).orderBy(desc(logs.id)).limit(limit).offset(offset).all();
      const total = db.select({ n: count() }).from(logs).where(where).get()?.n ?? 0;
      return { rows, total };
    },
  };
}
