import { afterAll, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../../src/lib/clock.ts';
import { startSimulator, type TaskView } from '../../src/simulator/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'mjgw-sim-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const STEP = 1000;

test('with a task file the simulator answers for, and draws, the tasks of its previous run', async () => {
  const clock = new ManualClock(1_790_000_000_000);
  const taskFile = join(dir, 'sim.db');
  const opts = { clock, stepMs: STEP, imageSize: 32, taskFile };
  const post = async (url: string, path: string, body: unknown) =>
    (await (
      await fetch(url + path, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
    ).json()) as { code: number; result: string };
  const get = async (url: string, id: string) => (await (await fetch(`${url}/mj/task/${id}/fetch`)).json()) as TaskView;

  const one = await startSimulator(opts);
  const id = (await post(one.url, '/mj/submit/imagine', { prompt: 'kept across restarts' })).result;
  clock.advance(20 * STEP);
  const done = await get(one.url, id);
  expect(done.status).toBe('SUCCESS');
  const upscale = done.buttons.find((b) => b.label === 'U1')!;
  const up = (await post(one.url, '/mj/submit/action', { taskId: id, customId: upscale.customId })).result;
  clock.advance(20 * STEP);
  const zoom = (await get(one.url, up)).buttons.find((b) => b.customId.startsWith('MJ::CustomZoom::'))!;
  const modal = (await post(one.url, '/mj/submit/action', { taskId: up, customId: zoom.customId })).result;
  expect((await post(one.url, '/mj/submit/modal', { taskId: modal, prompt: 'kept --zoom 2' })).code).toBe(1);
  const png = new Uint8Array(await (await fetch(done.imageUrl!)).arrayBuffer());
  await one.stop();

  const two = await startSimulator(opts);
  try {
    expect(two.taskCount()).toBe(3);
    const again = await get(two.url, id);
    expect({ ...again, imageUrl: null }).toEqual({ ...done, imageUrl: null });
    const path = new URL(done.imageUrl!).pathname;
    const redrawn = await fetch(two.url + path);
    expect(redrawn.status).toBe(200);
    expect(new Uint8Array(await redrawn.arrayBuffer())).toEqual(png);
    // The modal confirmation was written too: the task runs instead of waiting in MODAL.
    expect((await get(two.url, modal)).status).toBe('NOT_START');
    clock.advance(20 * STEP);
    expect(await get(two.url, modal)).toMatchObject({ status: 'SUCCESS', prompt: 'kept --zoom 2' });
  } finally {
    await two.stop();
  }
});
