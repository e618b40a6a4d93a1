import { afterAll, describe, expect, test } from 'bun:test';
import type { ChargeInput, TaskStore } from '../../src/contract/tasks.ts';
import { readUnfinished } from './unfinished.ts';

/**
 * The money, sync and rate-limit rules every TaskStore adapter must keep, through the interface
 * only: tests/unit/task-store-behaviour.test.ts runs them on SQLite, and
 * tests/integration/pg-task-store.test.ts on PostgreSQL.
 */
export interface Harness {
  store: TaskStore;
  userId: number;
  tokenId: number;
  channelId: number;
  userQuota(): Promise<number>;
  taskCount(): Promise<number>;
  cleanup?: () => Promise<void>;
}

export const NOW = 1_750_000_000_000;
const PRICE = 100;

function charge(h: Harness, hookUrl: string | null = null): ChargeInput {
  return {
    userId: h.userId,
    tokenId: h.tokenId,
    unlimitedToken: true,
    channelId: h.channelId,
    modelName: 'mj_imagine',
    quota: PRICE,
    now: NOW,
    hookUrl,
    task: {
      action: 'IMAGINE',
      mjId: '',
      prompt: 'a cat',
      submitTime: NOW,
      progress: '0%',
      status: '',
      updatedTime: NOW,
    },
  };
}

const payload = () => '{}';

/** Registers the cases for one adapter; `open` makes a fresh store over an empty database per case. */
export function taskStoreBehaviour(name: string, open: () => Promise<Harness>): void {
  describe(`TaskStore behaviour (${name})`, () => {
    const opened: Harness[] = [];
    const fresh = async () => {
      const h = await open();
      opened.push(h);
      return h;
    };
    afterAll(async () => {
      for (const h of opened) await h.cleanup?.();
    });
    test('a charge the user cannot pay writes nothing', async () => {
      const h = await fresh();
      expect(typeof (await h.store.money.chargeAndRecord(charge(h)))).toBe('number');
      expect(await h.store.money.chargeAndRecord(charge(h))).toBe('quota_not_enough');
      expect([await h.userQuota(), await h.taskCount()]).toEqual([50, 1]);
    });

    test('fail-and-refund refunds once and only the winner queues the webhook', async () => {
      const h = await fresh();
      const id = await h.store.money.chargeAndRecord(charge(h, 'https://hooks.example/x'));
      if (typeof id !== 'number') throw new Error('charge refused');
      const first = await h.store.money.failAndRefund(
        id,
        PRICE,
        { failReason: 'boom' },
        NOW + 1,
        'mj_imagine',
        payload,
      );
      const second = await h.store.money.failAndRefund(
        id,
        PRICE,
        { failReason: 'boom' },
        NOW + 2,
        'mj_imagine',
        payload,
      );
      expect([first, second]).toEqual([
        { won: true, refunded: PRICE },
        { won: false, refunded: 0 },
      ]);
      expect(await h.userQuota()).toBe(150);
      expect(await h.store.outbox.due(NOW + 10, 10)).toHaveLength(1);
      // An acceptance that arrives after the ending loses and writes nothing.
      const settle = {
        done: false,
        withImage: false,
        params: {
          taskId: id,
          mjId: 'mj-late',
          code: 1,
          description: '',
          properties: '',
          now: NOW + 3,
          status: '',
          progress: '0%',
          imageUrl: '',
        },
      };
      expect(await h.store.money.settleAccepted(settle, null)).toBe(false);
      expect(await h.store.tasks.findByMjId('mj-late', null)).toBeNull();
    });

    test('a settled task is found by its upstream id; a sync update never writes over a finished row', async () => {
      const h = await fresh();
      const id = await h.store.money.chargeAndRecord(charge(h));
      if (typeof id !== 'number') throw new Error('charge refused');
      const settle = {
        done: true,
        withImage: false,
        params: {
          taskId: id,
          mjId: 'mj-1',
          code: 1,
          description: '',
          properties: '',
          now: NOW + 1,
          status: 'SUCCESS',
          progress: '100%',
          imageUrl: '',
        },
      };
      expect(await h.store.money.settleAccepted(settle, null)).toBe(true);
      expect((await h.store.tasks.findByMjId('mj-1', h.userId))?.id).toBe(id);
      expect(await h.store.tasks.findByMjId('mj-1', h.userId + 1)).toBeNull();
      const fields = {
        progress: '50%',
        status: 'IN_PROGRESS',
        promptEn: '',
        state: '',
        startTime: 0,
        finishTime: 0,
        imageUrl: '',
        videoUrl: '',
        videoUrls: '',
        failReason: '',
        buttons: '',
        properties: '',
      };
      expect(await h.store.sync.apply([{ kind: 'update', taskId: id, fields }], NOW + 2, payload)).toEqual([
        { won: false, refunded: 0 },
      ]);
      expect(await readUnfinished(h.store.sync)).toEqual([]);
    });

    test('the rate limit takes a slot while the window has room and says when it frees', async () => {
      const h = await fresh();
      const start = Math.floor(NOW / 60_000) * 60_000;
      expect(await h.store.rateLimit.take(h.tokenId, 1, start + 1_000)).toEqual({ allowed: true });
      expect(await h.store.rateLimit.take(h.tokenId, 1, start + 1_500)).toEqual({
        allowed: false,
        retryAfterSeconds: 59,
      });
      expect(await h.store.rateLimit.take(h.tokenId, 0, start + 1_500)).toEqual({ allowed: true });
    });
  });
}
