import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { and, eq } from 'drizzle-orm';
import { LOG_TYPE } from '../../src/contract/constants.ts';
import { logs } from '../../src/db/schema/index.ts';
import { deleteChannel } from '../../src/domain/channels.ts';
import { createPoller, type Poller } from '../../src/jobs/poller.ts';
import { ManualClock } from '../../src/lib/clock.ts';
import { SIM_FAIL_REASON, type Simulator, startSimulator } from '../../src/simulator/index.ts';
import { createTestChannel, createTestUser, getTask, getUserQuota, insertTask } from '../helpers/factories.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { submitToSimulator } from '../helpers/simulator.ts';

/**
 * The poller against the real simulator, over a real server's database: one ManualClock drives
 * both the simulator's task lifecycle and the gateway's timeouts, so nothing here sleeps.
 */

const STEP = 1000;
const SECRET = 'sim-secret';
const PRICE = 50_000;
const START_QUOTA = 1_000_000;
const TIMEOUT_MS = 30_000;

const clock = new ManualClock(1_790_000_000_000);
let sim: Simulator;
let server: TestServer;
let poller: Poller;
let channelId: number;

const simSubmit = (prompt: string) => submitToSimulator(sim, SECRET, prompt);

/** A user who was charged PRICE for one task on the simulator (as the relay records it). */
async function chargedTask(prompt: string, channel = channelId) {
  const user = createTestUser(server.db, { quota: START_QUOTA - PRICE });
  const mjId = await simSubmit(prompt);
  const task = insertTask(server.db, {
    userId: user.id,
    channelId: channel,
    mjId,
    prompt,
    quota: PRICE,
    progress: '0%',
    submitTime: clock.now(),
    code: 1,
  });
  return { user, task };
}

function refundRows(userId: number) {
  return server.db
    .select()
    .from(logs)
    .where(and(eq(logs.userId, userId), eq(logs.type, LOG_TYPE.refund)))
    .all();
}

beforeAll(async () => {
  sim = await startSimulator({ secret: SECRET, clock, stepMs: STEP, imageSize: 32 });
  server = await startTestServer({ clock, env: { TASK_TIMEOUT_MS: String(TIMEOUT_MS) } });
  channelId = createTestChannel(server.db, sim.url, { key: SECRET });
  poller = createPoller(server.deps);
});

afterAll(async () => {
  await poller.stop();
  await server.stop();
  await sim.stop();
});

describe('poller with the simulator', () => {
  test('an imagine goes through its progress to SUCCESS with times, buttons and the final image', async () => {
    const { user, task } = await chargedTask('a lighthouse at dusk');
    const seen: string[] = [];
    for (let i = 0; i < 12; i++) {
      await poller.runOnce();
      const row = getTask(server.db, task.id)!;
      if (seen.at(-1) !== `${row.status} ${row.progress}`) seen.push(`${row.status} ${row.progress}`);
      if (row.progress === '100%') break;
      clock.advance(STEP);
    }
    expect(seen[0]).toBe('NOT_START 0%');
    expect(seen).toContain('SUBMITTED 0%');
    expect(seen.filter((s) => s.startsWith('IN_PROGRESS')).length).toBeGreaterThan(2);
    expect(seen.at(-1)).toBe('SUCCESS 100%');
    const row = getTask(server.db, task.id)!;
    expect(row.submitTime).toBe(task.submitTime);
    expect(row.startTime).toBeGreaterThan(row.submitTime);
    expect(row.finishTime).toBeGreaterThan(row.startTime);
    expect(row.imageUrl).toStartWith(`${sim.url}/images/user_`);
    expect(row.failReason).toBe('');
    expect((JSON.parse(row.buttons) as Array<{ label: string }>).map((b) => b.label)).toEqual(
      expect.arrayContaining(['U1', 'U4', 'V1', 'V4']),
    );
    // Stored as a reference to its template (src/db/sqlite/button-sets.ts), read back whole.
    expect(
      (server.db.$client.query('SELECT buttons FROM tasks WHERE id = ?').get(task.id) as { buttons: string }).buttons,
    ).toStartWith('{"set":');
    expect(JSON.parse(row.properties)).toMatchObject({ finalPrompt: expect.stringContaining('lighthouse') });
    expect(row.videoUrls).toBe('');
    expect(row.quota).toBe(PRICE);
    expect(getUserQuota(server.db, user.id)).toBe(START_QUOTA - PRICE);
    // The listing shows it (§6.1 shape), with the forwarded image link.
    const res = await fetch(`${server.url}/api/mj/self`, { headers: user.headers });
    const body = (await res.json()) as { data: { items: Array<Record<string, unknown>> } };
    expect(body.data.items[0]).toMatchObject({
      status: 'SUCCESS',
      progress: '100%',
      image_url: `${server.deps.serverAddress()}/mj/image/${task.mjId}`,
    });
  });

  test('--sim-fail ends FAILURE with the upstream reason and is refunded once', async () => {
    const { user, task } = await chargedTask('a broken dream --sim-fail');
    for (let i = 0; i < 8; i++) {
      await poller.runOnce();
      clock.advance(STEP);
    }
    expect(getTask(server.db, task.id)).toMatchObject({
      status: 'FAILURE',
      progress: '100%',
      failReason: SIM_FAIL_REASON,
      quota: 0,
    });
    expect(getUserQuota(server.db, user.id)).toBe(START_QUOTA);
    expect(refundRows(user.id)).toEqual([
      expect.objectContaining({ quota: PRICE, modelName: 'mj_imagine', mjId: task.mjId, channelId }),
    ]);
  });

  test('--sim-hang times out after TASK_TIMEOUT_MS by local submit time and is refunded', async () => {
    const { user, task } = await chargedTask('forever loading --sim-hang');
    await poller.runOnce();
    clock.advance(TIMEOUT_MS - 1);
    await poller.runOnce();
    expect(getTask(server.db, task.id)).toMatchObject({ status: 'IN_PROGRESS', quota: PRICE });
    clock.advance(1);
    await poller.runOnce();
    expect(getTask(server.db, task.id)).toMatchObject({
      status: 'FAILURE',
      progress: '100%',
      failReason: 'upstream task timed out after 0.5 minutes',
      quota: 0,
    });
    expect(getUserQuota(server.db, user.id)).toBe(START_QUOTA);
    expect(refundRows(user.id)).toHaveLength(1);
  });

  test('a task the upstream forgot stays unfinished until its timeout, then is refunded', async () => {
    const { user, task } = await chargedTask('soon forgotten');
    clock.advance(STEP);
    await poller.runOnce();
    expect(getTask(server.db, task.id)?.status).toBe('SUBMITTED');
    sim.setFault('forget');
    clock.advance(STEP);
    await poller.runOnce();
    expect(getTask(server.db, task.id)).toMatchObject({ status: 'SUBMITTED', progress: '0%', quota: PRICE });
    clock.advance(TIMEOUT_MS);
    await poller.runOnce();
    expect(getTask(server.db, task.id)).toMatchObject({
      status: 'FAILURE',
      progress: '100%',
      failReason: 'upstream task timed out after 0.5 minutes',
      quota: 0,
    });
    expect(getUserQuota(server.db, user.id)).toBe(START_QUOTA);
    expect(refundRows(user.id)).toHaveLength(1);
  });

  test('a task whose channel was deleted is failed naming the channel and refunded', async () => {
    const doomed = createTestChannel(server.db, sim.url, { key: SECRET });
    const { user, task } = await chargedTask('orphaned by an admin', doomed);
    await poller.runOnce();
    expect(getTask(server.db, task.id)?.progress).toBe('0%');
    await deleteChannel(server.deps.store, doomed);
    await poller.runOnce();
    expect(getTask(server.db, task.id)).toMatchObject({
      status: 'FAILURE',
      progress: '100%',
      failReason: `channel ${doomed} no longer exists`,
      quota: 0,
    });
    expect(getUserQuota(server.db, user.id)).toBe(START_QUOTA);
    expect(refundRows(user.id)).toHaveLength(1);
    // Further ticks change nothing.
    await poller.runOnce();
    expect(getUserQuota(server.db, user.id)).toBe(START_QUOTA);
    expect(refundRows(user.id)).toHaveLength(1);
  });
});
