import { and, count, desc, eq, sql } from 'drizzle-orm';
import type { DB } from '../client.ts';
import { tokens, type TokenRow } from '../schema/index.ts';

type NewTokenRow = Omit<TokenRow, 'id' | 'usedQuota' | 'accessedTime'>;
type TokenPatchRow = Partial<Pick<TokenRow,
  'name' | 'status' | 'remainQuota' | 'unlimitedQuota' | 'expiredTime' | 'rateLimitPerMinute' | 'webhookSecret'>>;

export function sqliteTokens(db: DB) {
  // The lookups of every relay request, prepared once: a request binds values, never compiles SQL.
  const byKey = db.select().from(tokens).where(eq(tokens.key, sql.placeholder('key'))).prepare();
  const touch = db.update(tokens).set({ accessedTime: sql`${sql.placeholder('now')}` }).where(eq(tokens.id, sql.placeholder('id'))).prepare();
  return {
    async byKey(key: string): Promise<TokenRow | null> {
      return byKey.get({ key }) ?? null;
    },
    async touch(id: number, now: number): Promise<void> {
      touch.run({ now, id });
    },
    async create(token: NewTokenRow): Promise<TokenRow> {
      return db.insert(tokens).values(token).returning().get();
    },
    async list(userId: number, limit: number, offset: number): Promise<{ rows: TokenRow[]; total: number }> {
      const rows = db.select().from(tokens).where(eq(tokens.userId, userId)).orderBy(desc(tokens.id))
        .limit(limit).offset(offset).all();
      const total = db.select({ n: count() }).from(tokens).where(eq(tokens.userId, userId)).get()?.n ?? 0;
      return { rows, total };
    },
    async update(userId: number, id: number, patch: TokenPatchRow): Promise<TokenRow | null> {
      const where = and(eq(tokens.id, id), eq(tokens.userId, userId));
      const row = Object.keys(patch).length
        ? db.update(tokens).set(patch).where(where).returning().get()
        : db.select().from(tokens).where(where).get();
      return row ?? null;
    },
    async delete(userId: number, id: number): Promise<boolean> {
      return db.delete(tokens).where(and(eq(tokens.id, id), eq(tokens.userId, userId))).returning({ id: tokens.id }).get() !== undefined;
    },
  };
}
