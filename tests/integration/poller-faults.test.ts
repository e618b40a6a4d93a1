import { afterAll, beforeAll, expect, test } from 'bun:test';
import { createPoller } from '../../src/jobs/poller.ts';
import { ManualClock } from '../../src/lib/clock.ts';
import { createLogger } from '../../src/lib/logger.ts';
import { type SimFault, type Simulator, startSimulator } from '../../src/simulator/index.ts';
import { createTestChannel, createTestUser, getTask, insertTask } from '../helpers/factories.ts';
import { startTestServer, type TestServer, waitFor } from '../helpers/server.ts';
import { submitToSimulator } from '../helpers/simulator.ts';

/** Upstream trouble: broken answers are logged and skipped, and a dead channel holds up nobody. */

const SECRET = 'fault-secret';
const clock = new ManualClock(1_790_000_000_000);
const lines: Array<Record<string, unknown>> = [];
let sim: Simulator;
let server: TestServer;
let userId: number;

beforeAll(async () => {
  sim = await startSimulator({ secret: SECRET, clock, stepMs: 1000, imageSize: 16 });
  server = await startTestServer({
    clock,
    logger: createLogger('debug', {}, (l) => lines.push(JSON.parse(l) as Record<string, unknown>)),
  });
  userId = createTestUser(server.db, { quota: 0 }).id;
});

afterAll(async () => {
  await server.stop();
  await sim.stop();
});

const simSubmit = (prompt: string) => submitToSimulator(sim, SECRET, prompt);

test('500s, garbage and dropped connections are logged per channel and skipped; tasks still complete afterwards', async () => {
  const channelId = createTestChannel(server.db, sim.url, { key: SECRET });
  const ids: number[] = [];
  for (let i = 0; i < 3; i++)
    ids.push(
      insertTask(server.db, { userId, channelId, mjId: await simSubmit(`storm ${i}`), submitTime: clock.now() }).id,
    );
  const poller = createPoller(server.deps);
  for (const fault of ['http500', 'garbage', 'drop'] as SimFault[]) {
    sim.setFault(fault);
    lines.length = 0;
    clock.advance(1000);
    const report = await poller.runOnce();
    expect(report.channelErrors).toBe(1);
    expect(lines.some((l) => l.level === 'warn' && l.channelId === channelId)).toBe(true);
    for (const id of ids) expect(getTask(server.db, id)).toMatchObject({ status: '', progress: '0%' });
  }
  sim.setFault('none');
  for (let i = 0; i < 12 && ids.some((id) => getTask(server.db, id)?.status !== 'SUCCESS'); i++) {
    clock.advance(1000);
    await poller.runOnce();
  }
  for (const id of ids) expect(getTask(server.db, id)).toMatchObject({ status: 'SUCCESS', progress: '100%' });
});

test('a hanging channel and a refused one do not hold up a healthy channel', async () => {
  // A server that accepts the request and never answers (until the test ends).
  const pending: Array<(r: Response) => void> = [];
  const hanging = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    fetch: () => new Promise<Response>((resolve) => pending.push(resolve)),
  });
  const closed = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response('') });
  const closedUrl = `http://127.0.0.1:${closed.port}`;
  await closed.stop(true);
  try {
    // Created first so they come first in the channel order.
    const hangingId = createTestChannel(server.db, `http://127.0.0.1:${hanging.port}`);
    const refusedId = createTestChannel(server.db, closedUrl);
    const healthyId = createTestChannel(server.db, sim.url, { key: SECRET });
    const stuck = insertTask(server.db, { userId, channelId: hangingId, submitTime: clock.now() });
    insertTask(server.db, { userId, channelId: refusedId, submitTime: clock.now() });
    const healthy = insertTask(server.db, {
      userId,
      channelId: healthyId,
      mjId: await simSubmit('healthy'),
      submitTime: clock.now(),
    });
    clock.advance(3000);
    lines.length = 0;
    const poller = createPoller(server.deps, { concurrency: 4 });
    let tickDone = false;
    const tick = poller.runOnce().then((r) => {
      tickDone = true;
      return r;
    });
    await waitFor(() => pending.length > 0, 'the hanging channel to be called');
    // The healthy channel's answer is written while the hanging call is still open.
    await waitFor(() => getTask(server.db, healthy.id)?.status === 'IN_PROGRESS', 'the healthy channel to be written');
    await waitFor(
      () => lines.some((l) => l.level === 'warn' && l.channelId === refusedId),
      'the refused channel to be logged',
    );
    expect(tickDone).toBe(false);
    // Shutting down cancels the hanging call instead of waiting out its timeout.
    await poller.stop();
    const report = await tick;
    expect(report.channels).toBe(3);
    expect(getTask(server.db, stuck.id)).toMatchObject({ status: '', progress: '0%' });
  } finally {
    for (const resolve of pending) resolve(new Response('[]'));
    await hanging.stop(true);
  }
});
