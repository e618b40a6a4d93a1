import { afterAll, beforeAll, expect, test } from 'bun:test';
import { and, eq } from 'drizzle-orm';
import { tasks, tokens } from '../../src/db/schema/index.ts';
import { startDemo } from '../../src/demo.ts';
import { startTestServer, type TestServer, waitFor } from '../helpers/server.ts';

/**
 * DEMO=1 turns upstream push on (SPEC §16): a demo submit shows SUCCESS as soon as the in-process
 * simulator has it, with no poller running at all.
 */

let srv: TestServer;
let demo: { stop: () => Promise<void> };

beforeAll(async () => {
  srv = await startTestServer({ env: { DEMO: '1' } });
  demo = await startDemo(srv.deps, { stepMs: 20, print: () => {} });
});

afterAll(async () => {
  await demo?.stop();
  await srv?.stop();
});

test("a demo task reaches SUCCESS through the simulator's push alone", async () => {
  expect(srv.deps.options.get('mj_upstream_notify_enabled')).toBe(true);
  const key = srv.db
    .select()
    .from(tokens)
    .where(and(eq(tokens.userId, 1), eq(tokens.name, 'demo')))
    .get()!.key;
  const res = await fetch(`${srv.url}/mj/submit/imagine`, {
    method: 'POST',
    headers: { authorization: `Bearer sk-${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ prompt: 'a lighthouse at dawn' }),
  });
  const mjId = ((await res.json()) as { result: string }).result;
  const row = await waitFor(() => {
    const t = srv.db.select().from(tasks).where(eq(tasks.mjId, mjId)).get();
    return t?.status === 'SUCCESS' ? t : null;
  }, 'the pushed SUCCESS');
  expect(row.progress).toBe('100%');
  expect(row.imageUrl).not.toBe('');
});
