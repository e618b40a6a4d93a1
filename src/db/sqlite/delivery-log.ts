import { count, desc, eq } from 'drizzle-orm';
import type { DeliveryStatus } from '../../contract/constants.ts';
import type { DB } from '../client.ts';
import { webhookDeliveries } from '../schema/index.ts';

/** The webhook delivery list (never the payload: it may be large). */
export function sqliteDeliveryLog(db: DB) {
  const columns = {
    id: webhookDeliveries.id,
    taskId: webhookDeliveries.taskId,
    mjId: webhookDeliveries.mjId,
    userId: webhookDeliveries.userId,
    url: webhookDeliveries.url,
    status: webhookDeliveries.status,
    attempts: webhookDeliveries.attempts,
    lastError: webhookDeliveries.lastError,
    nextAttemptAt: webhookDeliveries.nextAttemptAt,
    createdTime: webhookDeliveries.createdTime,
    deliveredTime: webhookDeliveries.deliveredTime,
  };
  return {
    async list(userId: number | null, limit: number, offset: number) {
      const where = userId === null ? undefined : eq(webhookDeliveries.userId, userId);
      const rows = db
        .select(columns)
        .from(webhookDeliveries)
        .where(where)
        .orderBy(desc(webhookDeliveries.id))
        .limit(limit)
        .offset(offset)
        .all();
      const total = db.select({ n: count() }).from(webhookDeliveries).where(where).get()?.n ?? 0;
      return { rows: rows.map((r) => ({ ...r, status: r.status as DeliveryStatus })), total };
    },
  };
}
