import { Database } from 'bun:sqlite';
import { afterAll, expect, test } from 'bun:test';
import { eq } from 'drizzle-orm';
import { tokens } from '../../src/db/schema/index.ts';
import { enqueueTaskChange, recordTaskHook } from '../../src/db/sqlite/outbox.ts';
import { webhookPayloadOf } from '../../src/domain/webhooks.ts';
import { tempDb } from '../helpers/db.ts';
import { createTestApiKey, createTestUser, insertTask } from '../helpers/factories.ts';
import { type GatewayProcess, spawnGateway } from '../helpers/process.ts';
import { waitFor } from '../helpers/server.ts';
import { startWebhookReceiver, verifySignature } from '../helpers/webhook-receiver.ts';

/**
 * The outbox survives a restart: the real server process fails a delivery against a receiver that
 * answers 500, is stopped, and the next start delivers the same delivery (same id, next attempt).
 */

const PROCESS_TEST_TIMEOUT_MS = 60_000;
const SECRET = 'whsec_restartrestartrestartrestart12';
const receiver = startWebhookReceiver();
const { db, path, cleanup } = tempDb();
const running: GatewayProcess[] = [];

afterAll(async () => {
  for (const p of running) if (p.proc.exitCode === null) await p.stop();
  await receiver.stop();
  cleanup();
});

function start(): GatewayProcess {
  const p = spawnGateway({
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_PATH: path,
    WEBHOOK_ALLOW_PRIVATE: 'true',
    INITIAL_ROOT_ACCESS_TOKEN: 'restart-root-token-0123',
  });
  running.push(p);
  return p;
}

function delivery() {
  const sqlite = new Database(path, { readonly: true });
  try {
    return sqlite.query('SELECT id, status, attempts, last_error FROM webhook_deliveries').get() as {
      id: number;
      status: string;
      attempts: number;
      last_error: string;
    };
  } finally {
    sqlite.close();
  }
}

test(
  'a delivery pending when the gateway stops is delivered by the next start',
  async () => {
    const user = createTestUser(db);
    const key = createTestApiKey(db, user.id);
    db.update(tokens).set({ webhookSecret: SECRET }).where(eq(tokens.id, key.id)).run();
    const task = insertTask(db, { userId: user.id, tokenId: key.id, status: 'SUCCESS', progress: '100%' });
    db.transaction((tx) => {
      recordTaskHook(tx, { taskId: task.id, userId: user.id, tokenId: key.id, url: `${receiver.url}/restart` });
      enqueueTaskChange(tx, [task.id], Date.now(), webhookPayloadOf(Date.now()));
    });
    db.$client.close();

    receiver.answer(500, 500, 500, 500);
    const first = start();
    await first.waitForOutput(/listening on/, 'the listening line');
    await waitFor(() => receiver.received.length >= 1, 'the first attempt');
    expect(await first.stop()).toBe(0);
    const pending = delivery();
    expect(pending).toMatchObject({ status: 'pending', last_error: 'HTTP 500' });
    const attemptsBefore = pending.attempts;
    const sentBefore = receiver.received.length;

    receiver.clearAnswers();
    const second = start();
    await waitFor(() => delivery().status === 'delivered', 'the delivery after the restart');
    expect(await second.stop()).toBe(0);
    expect(delivery()).toMatchObject({ status: 'delivered', attempts: attemptsBefore + 1, last_error: '' });
    expect(receiver.received).toHaveLength(sentBefore + 1);
    const ids = new Set(receiver.received.map((r) => r.deliveryId));
    expect([...ids]).toEqual([`dlv_${pending.id}`]);
    const last = receiver.received.at(-1)!;
    expect(verifySignature(SECRET, last.signature!, last.body, Date.now() / 1000)).toBe(true);
    expect(JSON.parse(last.body)).toMatchObject({ id: task.mjId, status: 'SUCCESS', progress: '100%' });
  },
  PROCESS_TEST_TIMEOUT_MS,
);
