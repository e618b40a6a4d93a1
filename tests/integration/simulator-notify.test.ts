import { afterAll, afterEach, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../../src/lib/clock.ts';
import { type Simulator, type SimulatorOptions, startSimulator, type TaskView } from '../../src/simulator/index.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.ts';

const running: { stop(): Promise<void> }[] = [];
afterEach(async () => {
  for (const r of running.splice(0).reverse()) await r.stop();
});

const dir = mkdtempSync(join(tmpdir(), 'mjgw-sim-notify-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function sim(opts: SimulatorOptions = {}): Promise<Simulator> {
  const s = await startSimulator({ stepMs: 40, ...opts });
  running.push(s);
  return s;
}

function receiver(): WebhookReceiver {
  const r = startWebhookReceiver();
  running.push(r);
  return r;
}

async function imagine(s: Simulator, prompt: string, notifyHook?: string): Promise<string> {
  const res = await fetch(`${s.url}/mj/submit/imagine`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ prompt, notifyHook }),
  });
  const vo = (await res.json()) as { code: number; result: string };
  expect(vo.code).toBe(1);
  return vo.result;
}

async function fetchTask(s: Simulator, id: string): Promise<TaskView> {
  return (await (await fetch(`${s.url}/mj/task/${id}/fetch`)).json()) as TaskView;
}

async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(10);
  }
}

const bodies = (r: WebhookReceiver, path: string): TaskView[] =>
  r.received.filter((h) => h.path === path).map((h) => JSON.parse(h.body) as TaskView);

describe('simulator notifyHook push (SIM_NOTIFY)', () => {
  test('each change of a task is POSTed to its notifyHook in order, ending with SUCCESS 100% and the final image', async () => {
    const s = await sim();
    const r = receiver();
    const id = await imagine(s, 'a lighthouse at dusk', `${r.url}/hook/a`);
    await waitFor('the SUCCESS push', () => bodies(r, '/hook/a').some((b) => b.status === 'SUCCESS'));
    const got = bodies(r, '/hook/a');
    expect(got.every((b) => b.id === id)).toBe(true);
    expect(r.received.every((h) => h.contentType?.startsWith('application/json'))).toBe(true);
    // Every lifecycle step, once each, in order: the statuses never go back, the percentages rise.
    expect(got.map((b) => `${b.status} ${b.progress}`)).toEqual([
      'NOT_START null',
      'SUBMITTED 0%',
      'IN_PROGRESS 0%',
      'IN_PROGRESS 15%',
      'IN_PROGRESS 31%',
      'IN_PROGRESS 46%',
      'IN_PROGRESS 62%',
      'IN_PROGRESS 78%',
      'IN_PROGRESS 93%',
      'SUCCESS 100%',
    ]);
    const last = got.at(-1)!;
    expect(last.imageUrl).toMatch(new RegExp(`^${s.url}/images/user_a_lighthouse_at_dusk_[0-9a-f-]{36}\\.png$`));
    // The body is the task exactly as the simulator's own fetch answers it.
    expect(last).toEqual(await fetchTask(s, id));
    expect(got[3]!.imageUrl).toBe(`${s.url}/images/${id}_grid_0.png`);
    await Bun.sleep(200); // nothing after the final state
    expect(bodies(r, '/hook/a')).toHaveLength(got.length);
  });

  test('a failing task ends with FAILURE and its failReason', async () => {
    const s = await sim();
    const r = receiver();
    const id = await imagine(s, 'a broken dream --sim-fail', `${r.url}/hook/f`);
    await waitFor('the FAILURE push', () => bodies(r, '/hook/f').some((b) => b.status === 'FAILURE'));
    const last = bodies(r, '/hook/f').at(-1)!;
    expect(last).toEqual(await fetchTask(s, id));
    expect(last.failReason).toBe('[Invalid parameter] simulated failure');
  });

  test('notify:false sends nothing; no hook, nothing', async () => {
    const off = await sim({ notify: false });
    const on = await sim();
    const r = receiver();
    const idOff = await imagine(off, 'quiet', `${r.url}/hook/off`);
    await imagine(on, 'no hook at all');
    const idOn = await imagine(on, 'loud', `${r.url}/hook/on`);
    await waitFor('the loud task SUCCESS', () => bodies(r, '/hook/on').some((b) => b.status === 'SUCCESS'));
    await waitFor('the quiet task SUCCESS', async () => (await fetchTask(off, idOff)).status === 'SUCCESS');
    expect((await fetchTask(on, idOn)).status).toBe('SUCCESS');
    expect(r.received.filter((h) => h.path !== '/hook/on')).toEqual([]);
  });

  test('a hook that hangs or refuses does not delay other tasks, and the simulator keeps serving', async () => {
    const s = await sim();
    const r = receiver();
    const hanging = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Promise<Response>(() => {}) });
    running.push({ stop: () => hanging.stop(true) });
    const refused = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response('no') });
    const refusedUrl = `http://127.0.0.1:${refused.port}/gone`;
    await refused.stop(true); // nothing listens there any more: connection refused
    for (let i = 0; i < 5; i++) await imagine(s, `stuck ${i}`, `http://127.0.0.1:${hanging.port}/never`);
    await imagine(s, 'refused', refusedUrl);
    await imagine(s, 'bad hook', 'http://hook.invalid/x');
    const id = await imagine(s, 'fine', `${r.url}/hook/ok`);
    // The healthy hook sees every step although the others hang for 5 s per POST.
    await waitFor('the healthy hook SUCCESS', () => bodies(r, '/hook/ok').some((b) => b.status === 'SUCCESS'), 4000);
    expect(bodies(r, '/hook/ok').map((b) => b.status)).toEqual([
      'NOT_START',
      'SUBMITTED',
      ...Array(7).fill('IN_PROGRESS'),
      'SUCCESS',
    ]);
    expect((await fetchTask(s, id)).status).toBe('SUCCESS');
    expect(await (await fetch(`${s.url}/sim/health`)).text()).toBe('ok');
  });

  test('a modal task is pushed again once confirmed', async () => {
    const s = await sim();
    const r = receiver();
    const parent = await imagine(s, 'a lion', `${r.url}/hook/p`);
    await waitFor('parent SUCCESS', () => bodies(r, '/hook/p').some((b) => b.status === 'SUCCESS'));
    const done = bodies(r, '/hook/p').at(-1)!;
    const inpaint = done.buttons.find(
      (b) => b.customId.startsWith('MJ::Inpaint::') || b.customId.startsWith('MJ::CustomZoom::'),
    ) ?? { customId: `MJ::Inpaint::1::${String(done.properties.messageHash)}::SOLO` };
    const act = (await (
      await fetch(`${s.url}/mj/submit/action`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ taskId: parent, customId: inpaint.customId, notifyHook: `${r.url}/hook/m` }),
      })
    ).json()) as { code: number; result: string };
    expect(act.code).toBe(21);
    await waitFor('the MODAL push', () => bodies(r, '/hook/m').length === 1);
    expect(bodies(r, '/hook/m')[0]!.status).toBe('MODAL');
    await fetch(`${s.url}/mj/submit/modal`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ taskId: act.result, prompt: 'a lion, maned' }),
    });
    await waitFor('the confirmed task SUCCESS', () => bodies(r, '/hook/m').some((b) => b.status === 'SUCCESS'));
    expect(bodies(r, '/hook/m').at(-1)).toEqual(await fetchTask(s, act.result));
  });

  test('after a restart with a task file, an unfinished task is pushed on to its end; a finished one is not told again', async () => {
    const clock = new ManualClock(1_790_000_000_000);
    const taskFile = join(dir, 'restart.db');
    const r = receiver();
    const one = await startSimulator({ clock, stepMs: 1000, taskFile });
    const finished = await imagine(one, 'done before the restart', `${r.url}/hook/done`);
    clock.advance(20_000);
    await waitFor('the first SUCCESS push', () => bodies(r, '/hook/done').some((b) => b.status === 'SUCCESS'));
    const pending = await imagine(one, 'still running', `${r.url}/hook/pending`);
    await waitFor('the NOT_START push', () => bodies(r, '/hook/pending').length === 1);
    await one.stop();
    const before = bodies(r, '/hook/done').length;

    const two = await sim({ clock, stepMs: 1000, taskFile });
    clock.advance(20_000);
    await waitFor('the SUCCESS push after the restart', () =>
      bodies(r, '/hook/pending').some((b) => b.status === 'SUCCESS'),
    );
    expect(bodies(r, '/hook/pending').at(-1)).toEqual(await fetchTask(two, pending));
    expect(bodies(r, '/hook/done')).toHaveLength(before);
    expect((await fetchTask(two, finished)).status).toBe('SUCCESS');
  });

  test('a failed POST is tried at most twice more, with a pause, then given up; the next state still goes out', async () => {
    const clock = new ManualClock(1_790_000_000_000);
    const s = await sim({ clock, stepMs: 1000 });
    const r = receiver();
    r.answer(500, 500, 500, 503, 200);
    await imagine(s, 'a hook that stumbles', `${r.url}/hook/r`);
    await waitFor('three tries of the first state', () => r.received.length === 3);
    clock.advance(1000);
    await waitFor(
      'the SUBMITTED state, tried again once',
      () =>
        bodies(r, '/hook/r')
          .map((b) => b.status)
          .join() === 'NOT_START,NOT_START,NOT_START,SUBMITTED,SUBMITTED',
    );
    clock.advance(60_000);
    await waitFor('the SUCCESS push', () => bodies(r, '/hook/r').some((b) => b.status === 'SUCCESS'));
    expect(bodies(r, '/hook/r').map((b) => b.status)).toEqual([
      'NOT_START',
      'NOT_START',
      'NOT_START',
      'SUBMITTED',
      'SUBMITTED',
      'SUCCESS',
    ]);
  });
});
