import { describe, expect, test } from 'bun:test';
import { eq } from 'drizzle-orm';
import { webhookDeliveries } from '../../src/db/schema/index.ts';
import { enqueueTaskChange, recordTaskHook } from '../../src/db/sqlite/outbox.ts';
import {
  CLAIM_LEASE_MS,
  claimDelivery,
  markAttemptFailed,
  markDelivered,
  selectDueDeliveries,
} from '../../src/db/sqlite/outbox-worker.ts';
import { hookUrlOf, webhookPayloadOf } from '../../src/domain/webhooks.ts';
import {
  failedAttemptOf,
  MAX_DELIVERY_ATTEMPTS,
  retryDelayMs,
  signatureHeader,
} from '../../src/domain/webhooks-sign.ts';
import { memoryDb } from '../helpers/db.ts';
import { createTestApiKey, createTestUser, insertTask } from '../helpers/factories.ts';
import { verifySignature } from '../helpers/webhook-receiver.ts';

describe('webhook signing and backoff', () => {
  test('the signature is HMAC-SHA256 over "<t>.<body>" (vector computed with openssl)', () => {
    // printf '%s' '1700000000.{"a":1}' | openssl dgst -sha256 -hmac 'whsec_test'
    expect(signatureHeader('whsec_test', '{"a":1}', 1_700_000_000.9)).toBe(
      't=1700000000,v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789',
    );
  });

  test('a verifier accepts it with the right secret and a fresh timestamp only', () => {
    const header = signatureHeader('whsec_a', '{"id":"1"}', 1_700_000_000);
    expect(verifySignature('whsec_a', header, '{"id":"1"}', 1_700_000_010)).toBe(true);
    expect(verifySignature('whsec_b', header, '{"id":"1"}', 1_700_000_010)).toBe(false);
    expect(verifySignature('whsec_a', header, '{"id":"2"}', 1_700_000_010)).toBe(false);
    expect(verifySignature('whsec_a', header, '{"id":"1"}', 1_700_001_000)).toBe(false);
  });

  test('retries wait 1 s, doubling: 1, 2, 4, ... 64 s over the 8 attempts', () => {
    expect(Array.from({ length: MAX_DELIVERY_ATTEMPTS - 1 }, (_, i) => retryDelayMs(i + 1))).toEqual(
      [1, 2, 4, 8, 16, 32, 64].map((s) => s * 1000),
    );
    // The attempt that spends the last one fails the delivery for good.
    expect(failedAttemptOf(MAX_DELIVERY_ATTEMPTS - 2, 0)).toEqual({
      outcome: 'retry',
      retryAt: retryDelayMs(MAX_DELIVERY_ATTEMPTS - 1),
    });
    expect(failedAttemptOf(MAX_DELIVERY_ATTEMPTS - 1, 0)).toEqual({ outcome: 'failed', retryAt: null });
  });
});

describe('notifyHook validation', () => {
  test('http(s) URLs up to 2048 characters are kept; blank is none; anything else is refused naming notifyHook', () => {
    expect(hookUrlOf({})).toBeNull();
    expect(hookUrlOf({ notifyHook: null })).toBeNull();
    expect(hookUrlOf({ notifyHook: '  ' })).toBeNull();
    expect(hookUrlOf({ notifyHook: ' https://example.com/h?x=1 ' })).toBe('https://example.com/h?x=1');
    const long = `http://e.com/${'a'.repeat(2048 - 13)}`;
    expect(long).toHaveLength(2048);
    expect(hookUrlOf({ notifyHook: long })).toBe(long);
    for (const bad of [`${long}a`, 'file:///etc/passwd', 'javascript:alert(1)', 'nope', 7, ['http://e.com']]) {
      expect(() => hookUrlOf({ notifyHook: bad })).toThrow(/notifyHook/);
    }
  });
});

describe('the outbox', () => {
  function setup() {
    const db = memoryDb();
    const user = createTestUser(db);
    const key = createTestApiKey(db, user.id);
    const task = insertTask(db, { userId: user.id, tokenId: key.id });
    const plain = insertTask(db, { userId: user.id, tokenId: key.id });
    db.transaction((tx) =>
      recordTaskHook(tx, { taskId: task.id, userId: user.id, tokenId: key.id, url: 'https://example.com/h' }),
    );
    return { db, task, plain };
  }

  test('only hooked tasks get deliveries, carrying the fetch shape', () => {
    const { db, task, plain } = setup();
    expect(db.transaction((tx) => enqueueTaskChange(tx, [task.id, plain.id], 1000, webhookPayloadOf(1000)))).toBe(1);
    const row = db.select().from(webhookDeliveries).get()!;
    expect(row).toMatchObject({
      taskId: task.id,
      mjId: task.mjId,
      status: 'pending',
      attempts: 0,
      nextAttemptAt: 1000,
    });
    expect(JSON.parse(row.payload)).toMatchObject({ id: task.mjId, prompt: 'a cat', progress: '0%' });
  });

  test('a row is claimed once; a stale attempt cannot overwrite a newer outcome', () => {
    const { db, task } = setup();
    db.transaction((tx) => enqueueTaskChange(tx, [task.id, task.id], 1000, webhookPayloadOf(1000)));
    const due = selectDueDeliveries(db, 1000, 10);
    expect(due).toHaveLength(1);
    const row = due[0]!;
    expect(claimDelivery(db, row, 1000)).toBe(true);
    expect(claimDelivery(db, row, 1000)).toBe(false);
    expect(selectDueDeliveries(db, 1000 + CLAIM_LEASE_MS - 1, 10)).toHaveLength(0);
    const next = failedAttemptOf(row.attempts, 1100);
    expect(next).toEqual({ outcome: 'retry', retryAt: 1100 + retryDelayMs(1) });
    markAttemptFailed(db, row, 'HTTP 500', next.retryAt);
    // The same (id, attempts) again: a second worker's late answer changes nothing.
    expect(markDelivered(db, row, 1200)).toBe(false);
    expect(db.select().from(webhookDeliveries).where(eq(webhookDeliveries.id, row.id)).get()).toMatchObject({
      status: 'pending',
      attempts: 1,
      nextAttemptAt: 1100 + retryDelayMs(1),
      lastError: 'HTTP 500',
    });
  });
});
