import { afterAll, beforeAll, expect, test } from 'bun:test';
import { createPoller } from '../../src/jobs/poller.ts';
import { silentLogger } from '../../src/lib/logger.ts';
import { createTestChannel, createTestUser, insertTask } from '../helpers/factories.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

/**
 * A tick serves the event loop between its batches (issue 15): a request to the real server,
 * sent as a many-batch tick starts, is answered while the tick still has batches to go, even
 * when the upstream answers at once (then nothing but the poller itself hands the loop back).
 */

const BATCHES = 200;
let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.stop();
});

test('a request is answered while a many-batch tick is still in progress', async () => {
  const db = server.db;
  const userId = createTestUser(db, { quota: 1000 }).id;
  const channelId = createTestChannel(db, 'http://up.test', { key: 'k' });
  for (let i = 0; i < BATCHES; i++)
    insertTask(db, { userId, channelId, mjId: `y${i}`, progress: '0%', submitTime: Date.now() });

  let calls = 0;
  let answeredAfterCalls: number | null = null;
  let requestDone!: () => void;
  const requestCompleted = new Promise<void>((resolve) => (requestDone = resolve));
  const upstream = (async (_url: string, init: RequestInit) => {
    const ids = (JSON.parse(String(init.body)) as { ids: string[] }).ids;
    // The last batch waits for the request, so the test ends whatever the poller does.
    if (++calls === BATCHES) await requestCompleted;
    return Response.json(ids.map((id) => ({ id, status: 'IN_PROGRESS', progress: `${calls % 90}%` })));
  }) as unknown as typeof fetch;
  const poller = createPoller({
    ...server.deps,
    fetch: upstream,
    logger: silentLogger,
    config: { pollIntervalMs: 3_600_000, pollBatchSize: 1, taskTimeoutMs: 3_600_000, upstreamTimeoutMs: 60_000 },
  });

  const tick = poller.runOnce();
  const request = fetch(`${server.url}/healthz`).then(async (res) => {
    answeredAfterCalls = calls;
    requestDone();
    return res.status;
  });
  const [report, status] = await Promise.all([tick, request]);
  expect(status).toBe(200);
  expect(report).toMatchObject({ unfinished: BATCHES, updated: BATCHES, channelErrors: 0 });
  // Answered between two batches, not once every batch had been asked for.
  expect(answeredAfterCalls).not.toBeNull();
  expect(answeredAfterCalls!).toBeLessThan(BATCHES);
});
