import { expect, test } from 'bun:test';
import type { OutboxStore } from '../../src/contract/tasks.ts';
import { AppError, DATABASE_UNAVAILABLE } from '../../src/domain/errors.ts';
import { createWebhookWorker } from '../../src/jobs/webhooks.ts';
import { ManualClock } from '../../src/lib/clock.ts';
import { createLogger } from '../../src/lib/logger.ts';

test('a webhook pass during a database outage is one warn line, not an error', async () => {
  const lines: Array<Record<string, unknown>> = [];
  const unavailable = () => Promise.reject(new AppError('DATABASE', DATABASE_UNAVAILABLE, 'database_unavailable'));
  const outbox = new Proxy({}, { get: () => unavailable }) as OutboxStore;
  const worker = createWebhookWorker({
    logger: createLogger('debug', {}, (l) => lines.push(JSON.parse(l) as Record<string, unknown>)),
    clock: new ManualClock(1_790_000_000_000),
    fetch: globalThis.fetch,
    taskStore: { outbox },
    config: { webhookAllowPrivate: false },
  });
  await worker.runOnce();
  expect(lines.filter((l) => l.level === 'error')).toEqual([]);
  expect(lines.some((l) => l.level === 'warn' && l.msg === 'webhook pass failed: database unavailable')).toBe(true);
});
