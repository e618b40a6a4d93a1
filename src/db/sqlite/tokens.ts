import { and, count, desc, eq, gt, or, sql } from 'drizzle-orm';
import { TOKEN_STATUS } from '../../contract/constants.ts';
import type { NewToken, TokenPatch } from '../../contract/management.ts';
import type { TokenRow } from '../../contract/rows.ts';
import type { DB } from '../client.ts';
import { tokens } from '../schema/index.ts';

export function sqliteTokens(db: DB) {
  // The lookups of every relay request, prepared once: a request binds values, never compiles SQL.
  const byKey = db
    .select()
    .from(tokens)
    .where(eq(tokens.key, sql.placeholder('key')))
    .prepare();
  const newestUsable = db
    .select()
    .from(tokens)
    .where(
      and(
        eq(tokens.userId, sql.placeholder('userId')),
        eq(tokens.status, TOKEN_STATUS.enabled),
        or(eq(tokens.expiredTime, -1), gt(tokens.expiredTime, sql.placeholder('now'))),
        or(eq(tokens.unlimitedQuota, true), gt(tokens.remainQuota, 0)),
      ),
    )
    .orderBy(desc(tokens.id))
    .limit(1)
    .prepare();
  const touch = db
    .update(tokens)
    .set({ accessedTime: sql`${sql.placeholder('now')}` })
    .where(eq(tokens.id, sql.placeholder('id')))
    .prepare();
  return {
    async byKey(key: string): Promise<TokenRow | null> {
      return byKey.get({ key }) ?? null;
    },
    async touch(id: number, now: number): Promise<void> {
      touch.run({ now, id });
    },
    async create(token: NewToken): Promise<TokenRow> {
      return db.insert(tokens).values(token).returning().get();
    },
    async list(userId: number, limit: number, offset: number): Promise<{ rows: TokenRow[]; total: number }> {
      const rows = db
        .select()
        .from(tokens)
        .where(eq(tokens.userId, userId))
        .orderBy(desc(tokens.id))
        .limit(limit)
        .offset(offset)
        .all();
      const total = db.select({ n: count() }).from(tokens).where(eq(tokens.userId, userId)).get()?.n ?? 0;
      return { rows, total };
    },
    async update(userId: number, id: number, patch: TokenPatch): Promise<TokenRow | null> {
      const where = and(eq(tokens.id, id), eq(tokens.userId, userId));
      const { rotateWebhookSecret: rotate, ...plain } = patch;
      // A rotation keeps the outgoing secret (read by the same UPDATE, so no rotation is lost between two).
      const set = rotate
        ? {
            ...plain,
            webhookSecret: rotate.secret,
            previousWebhookSecret: sql`${tokens.webhookSecret}`,
            webhookSecretRotatedAt: rotate.now,
          }
        : plain;
      const row = Object.keys(set).length
        ? db.update(tokens).set(set).where(where).returning().get()
        : db.select().from(tokens).where(where).get();
      return row ?? null;
    },
    async newestUsable(userId: number, now: number): Promise<TokenRow | null> {
      return newestUsable.get({ userId, now }) ?? null;
    },
    async delete(userId: number, id: number): Promise<boolean> {
      return (
        db
          .delete(tokens)
          .where(and(eq(tokens.id, id), eq(tokens.userId, userId)))
          .returning({ id: tokens.id })
          .get() !== undefined
      );
    },
  };
}
