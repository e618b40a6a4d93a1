import { describe, expect, test } from 'bun:test';
import { eq } from 'drizzle-orm';
import { tasks } from '../../src/db/schema/index.ts';
import { moveTaskChannel } from '../../src/db/sqlite/settle.ts';
import { planTick } from '../../src/domain/task-sync.ts';
import { ORPHAN_GRACE_MS, SUBMIT_DID_NOT_COMPLETE } from '../../src/domain/task-sync-normalise.ts';
import { memoryDb } from '../helpers/db.ts';
import { createTestChannel, createTestUser, insertTask } from '../helpers/factories.ts';

/**
 * A submit in flight (empty mj_id, unfinished) is an orphan of a crash only once its last write is
 * older than the upstream timeout plus a grace: a submit that fails over makes one upstream call
 * per channel, each allowed the whole timeout, and must not be refunded while the next one runs.
 */
const settings = { taskTimeoutMs: 3_600_000, upstreamTimeoutMs: 60_000 };
const window = settings.upstreamTimeoutMs + ORPHAN_GRACE_MS;

describe('the orphan window of a submit in flight', () => {
  test('counts from the last write, not from the submit time', () => {
    const db = memoryDb();
    const user = createTestUser(db);
    const now = 10_000_000;
    const failingOver = insertTask(db, {
      userId: user.id,
      mjId: '',
      progress: '0%',
      submitTime: now - window - 5_000,
      updatedTime: now - 1_000,
    });
    const crashed = insertTask(db, {
      userId: user.id,
      mjId: '',
      progress: '0%',
      submitTime: now - window - 5_000,
      updatedTime: now - window - 5_000,
    });
    const plan = planTick([failingOver, crashed], new Map(), now, settings);
    expect(plan.waiting).toBe(1);
    expect(plan.stranded.map((s) => [s.row.id, s.reason])).toEqual([[crashed.id, SUBMIT_DID_NOT_COMPLETE]]);
  });

  test('a failover move writes the task (restarting the window) together with its channel', () => {
    const db = memoryDb();
    const user = createTestUser(db);
    const a = createTestChannel(db, 'http://127.0.0.1:1');
    const b = createTestChannel(db, 'http://127.0.0.1:2');
    const task = insertTask(db, {
      userId: user.id,
      channelId: a,
      mjId: '',
      progress: '0%',
      submitTime: 1_000,
      updatedTime: 1_000,
    });
    expect(moveTaskChannel(db, task.id, a, b, 95_000)).toBe(true);
    const row = db.select().from(tasks).where(eq(tasks.id, task.id)).get()!;
    expect([row.channelId, row.updatedTime]).toEqual([b, 95_000]);
    // Only from the channel it is on, and only while unfinished (compare-and-set).
    expect(moveTaskChannel(db, task.id, a, b, 96_000)).toBe(false);
    expect(planTick([row], new Map(), 95_000 + window - 1, settings).waiting).toBe(1);
  });
});
