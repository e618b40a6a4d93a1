import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { type Caller, IMAGINE_PRICE, LOG_TYPE, type RelayWorld, relayWorld, SIM_SECRETS } from './relay-fixture.ts';

/**
 * Follow-ups go to the parent's channel with that channel's key. Two simulators with different
 * secrets; new jobs are steered to one or the other by priority, so each assertion knows which
 * upstream must (and must not) have been called.
 */
describe('relay follow-ups across two channels', () => {
  let w: RelayWorld;
  let c: Caller;
  let parentA: string;
  let upscaleA: string;

  const setPriorities = async (a: number, b: number) => {
    await w.setChannel(w.channelIds[0]!, { priority: a });
    await w.setChannel(w.channelIds[1]!, { priority: b });
  };
  const clear = () => {
    for (const s of w.sims) s.clearRequests();
  };
  /** Buttons as the upstream shows them (the poller would copy them into the task). */
  const upstreamButtons = async (simIndex: number, mjId: string): Promise<string[]> => {
    const sim = w.sims[simIndex]!;
    const res = await fetch(`${sim.url}/mj/task/${mjId}/fetch`, {
      headers: { 'mj-api-secret': SIM_SECRETS[simIndex]! },
    });
    const body = (await res.json()) as { buttons: { customId: string }[] };
    return body.buttons.map((b) => b.customId);
  };
  const onlyA = (path: string) => {
    expect(w.sims[1]!.requests.length).toBe(0);
    expect(w.sims[0]!.requests.map((r) => [r.path, r.secret])).toEqual([[path, SIM_SECRETS[0]!]]);
    return w.sims[0]!.requests[0]!.body as Record<string, unknown>;
  };

  beforeAll(async () => {
    w = await relayWorld({ sims: 2 });
    c = await w.caller(10_000_000);
    await setPriorities(10, 0);
    const res = await w.post('/mj/submit/imagine', { prompt: 'parent fox' }, c.headers);
    parentA = res.json.result as string;
    expect((await w.task(parentA))!.channelId).toBe(w.channelIds[0]!);
    await w.markSuccess(parentA);
    // From now on new jobs would go to B: follow-ups must still reach A.
    await setPriorities(0, 10);
  });
  afterAll(() => w.stop());

  test("a new job now goes to channel B with B's key", async () => {
    clear();
    const res = await w.post('/mj/submit/imagine', { prompt: 'other fox' }, c.headers);
    expect(res.json.code).toBe(1);
    expect(w.sims[0]!.requests.length).toBe(0);
    expect(w.sims[1]!.requests.map((r) => r.secret)).toEqual([SIM_SECRETS[1]!]);
  });

  test("change goes to the parent's channel A with A's key, records the parent prompt", async () => {
    clear();
    const before = await w.quota(c.userId);
    const res = await w.post('/mj/submit/change', { taskId: parentA, action: 'UPSCALE', index: 1 }, c.headers);
    expect(res.status).toBe(200);
    expect(res.json.code).toBe(1);
    expect(onlyA('/mj/submit/change')).toEqual({ taskId: parentA, action: 'UPSCALE', index: 1 });
    upscaleA = res.json.result as string;
    const row = (await w.task(upscaleA))!;
    expect(row.channelId).toBe(w.channelIds[0]!);
    expect(row.action).toBe('UPSCALE');
    expect(row.prompt).toBe('parent fox');
    expect(await w.quota(c.userId)).toBe(before - 25_000);
    await w.markSuccess(upscaleA);
  });

  test('simple-change is translated to a change and forwarded to /mj/submit/change on A', async () => {
    clear();
    const res = await w.post('/mj/submit/simple-change', { content: `${parentA} v2` }, c.headers);
    expect(res.json.code).toBe(1);
    expect(onlyA('/mj/submit/change')).toEqual({ taskId: parentA, action: 'VARIATION', index: 2 });
    expect((await w.task(res.json.result as string))!.action).toBe('VARIATION');
  });

  test('simple-change R becomes a reroll (no index)', async () => {
    clear();
    const res = await w.post('/mj/submit/simple-change', { content: `${parentA} R` }, c.headers);
    expect(res.json.code).toBe(1);
    expect(onlyA('/mj/submit/change')).toEqual({ taskId: parentA, action: 'REROLL' });
    expect((await w.task(res.json.result as string))!.action).toBe('REROLL');
  });

  test('a mode prefix is kept when simple-change is forwarded as change', async () => {
    clear();
    const res = await w.post('/mj-relax/mj/submit/simple-change', { content: `${parentA} U3` }, c.headers);
    expect(res.json.code).toBe(1);
    onlyA('/mj-relax/mj/submit/change');
  });

  test("action with a button customId goes to A; billed by the customId's action", async () => {
    const ids = await upstreamButtons(0, parentA);
    const u2 = ids.find((id) => id.startsWith('MJ::JOB::upsample::2::'))!;
    clear();
    const before = await w.quota(c.userId);
    const res = await w.post('/mj/submit/action', { taskId: parentA, customId: u2 }, c.headers);
    expect(res.json.code).toBe(1);
    expect(onlyA('/mj/submit/action')).toEqual({ taskId: parentA, customId: u2 });
    expect((await w.task(res.json.result as string))!.action).toBe('UPSCALE');
    expect(await w.quota(c.userId)).toBe(before - 25_000);

    const v1 = ids.find((id) => id.startsWith('MJ::JOB::variation::1::'))!;
    const res2 = await w.post('/mj/submit/action', { taskId: parentA, customId: v1 }, c.headers);
    expect((await w.task(res2.json.result as string))!.action).toBe('VARIATION');
    expect(await w.quota(c.userId)).toBe(before - 25_000 - IMAGINE_PRICE);
  });

  test('Inpaint (free, code 21 kept) then modal (charged, no SUCCESS needed) both on A', async () => {
    const ids = await upstreamButtons(0, upscaleA);
    const inpaint = ids.find((id) => id.startsWith('MJ::Inpaint::'))!;
    clear();
    const before = await w.quota(c.userId);
    const res = await w.post('/mj/submit/action', { taskId: upscaleA, customId: inpaint }, c.headers);
    expect(res.status).toBe(200);
    expect(res.json.code).toBe(21);
    onlyA('/mj/submit/action');
    const modalTask = res.json.result as string;
    const row = (await w.task(modalTask))!;
    expect(row.action).toBe('INPAINT');
    expect(row.quota).toBe(0);
    expect(row.code).toBe(21);
    expect(await w.quota(c.userId)).toBe(before);

    clear();
    const modal = await w.post(
      '/mj/submit/modal',
      { taskId: modalTask, prompt: 'a hat', maskBase64: 'data:image/png;base64,AAAA' },
      c.headers,
    );
    expect(modal.status).toBe(200);
    expect(modal.json.code).toBe(1);
    expect(onlyA('/mj/submit/modal')).toEqual({
      taskId: modalTask,
      prompt: 'a hat',
      maskBase64: 'data:image/png;base64,AAAA',
    });
    // The upstream confirms the waiting task itself, so the modal row shares its upstream id.
    const rows = (await w.tasksOf(c.userId)).filter((t) => t.mjId === modal.json.result);
    expect(rows.map((t) => [t.action, t.quota, t.channelId])).toEqual([
      ['INPAINT', 0, w.channelIds[0]!],
      ['MODAL', IMAGINE_PRICE, w.channelIds[0]!],
    ]);
    expect(rows[1]!.prompt).toBe('parent fox');
    const fetched = await w.get(`/mj/task/${modalTask}/fetch`, c.headers);
    expect(fetched.json.action).toBe('MODAL');
    expect(await w.quota(c.userId)).toBe(before - IMAGINE_PRICE);
  });

  test('CustomZoom answers 21 to the client and is free', async () => {
    const ids = await upstreamButtons(0, upscaleA);
    const zoom = ids.find((id) => id.startsWith('MJ::CustomZoom::'))!;
    clear();
    const before = await w.quota(c.userId);
    const res = await w.post('/mj/submit/action', { taskId: upscaleA, customId: zoom }, c.headers);
    expect(res.json.code).toBe(21);
    onlyA('/mj/submit/action');
    expect((await w.task(res.json.result as string))!.action).toBe('CUSTOM_ZOOM');
    expect(await w.quota(c.userId)).toBe(before);
  });

  test('Outpaint (zoom) is charged and answered as 1', async () => {
    const ids = await upstreamButtons(0, upscaleA);
    const out = ids.find((id) => id.startsWith('MJ::Outpaint::50::'))!;
    clear();
    const before = await w.quota(c.userId);
    const res = await w.post('/mj/submit/action', { taskId: upscaleA, customId: out }, c.headers);
    expect(res.json.code).toBe(1);
    expect((await w.task(res.json.result as string))!.action).toBe('ZOOM');
    expect(await w.quota(c.userId)).toBe(before - IMAGINE_PRICE);
  });

  test('video with taskId is a follow-up on A', async () => {
    clear();
    const res = await w.post(
      '/mj/submit/video',
      { prompt: 'move', action: 'extend', taskId: parentA, index: 0 },
      c.headers,
    );
    expect(res.json.code).toBe(1);
    onlyA('/mj/submit/video');
    const row = (await w.task(res.json.result as string))!;
    expect(row.action).toBe('VIDEO');
    expect(row.channelId).toBe(w.channelIds[0]!);
  });

  test("an unknown parent, or another user's parent, is 404 task_not_found and nothing is charged", async () => {
    const other = await w.caller(10_000_000);
    clear();
    for (const body of [
      { taskId: '9999999999999999', action: 'UPSCALE', index: 1 },
      { taskId: parentA, action: 'UPSCALE', index: 1 },
    ]) {
      const res = await w.post('/mj/submit/change', body, other.headers);
      expect(res.status).toBe(404);
      expect(res.json).toEqual({ code: 4, description: 'task_not_found', result: null, properties: {} });
    }
    const modal = await w.post('/mj/submit/modal', { taskId: parentA }, other.headers);
    expect(modal.status).toBe(404);
    expect(w.sims[0]!.requests.length + w.sims[1]!.requests.length).toBe(0);
    expect(await w.quota(other.userId)).toBe(10_000_000);
    expect((await w.tasksOf(other.userId)).length).toBe(0);
  });

  test('an unfinished parent is 400 task_status_not_success, unless the option is off', async () => {
    await setPriorities(10, 0);
    const fresh = (await w.post('/mj/submit/imagine', { prompt: 'young fox' }, c.headers)).json.result as string;
    await setPriorities(0, 10);
    clear();
    const res = await w.post('/mj/submit/change', { taskId: fresh, action: 'UPSCALE', index: 1 }, c.headers);
    expect(res.status).toBe(400);
    expect(res.json).toEqual({ code: 4, description: 'task_status_not_success', result: null, properties: {} });
    expect(w.sims[0]!.requests.length).toBe(0);

    await w.srv.deps.options.set('mj_action_check_success_enabled', false);
    try {
      const ok = await w.post('/mj/submit/change', { taskId: fresh, action: 'UPSCALE', index: 1 }, c.headers);
      expect(ok.json.code).toBe(1);
      onlyA('/mj/submit/change');
    } finally {
      await w.srv.deps.options.set('mj_action_check_success_enabled', true);
    }
  });

  test('a disabled parent channel is 400 channel_disabled, nothing charged', async () => {
    await w.setChannel(w.channelIds[0]!, { status: 2 });
    try {
      clear();
      const before = await w.quota(c.userId);
      const consumed = await w.logCount(c.userId, LOG_TYPE.consume);
      const res = await w.post('/mj/submit/change', { taskId: parentA, action: 'VARIATION', index: 1 }, c.headers);
      expect(res.status).toBe(400);
      expect(res.json).toEqual({ code: 4, description: 'channel_disabled', result: null, properties: {} });
      expect(w.sims[0]!.requests.length + w.sims[1]!.requests.length).toBe(0);
      expect(await w.quota(c.userId)).toBe(before);
      expect(await w.logCount(c.userId, LOG_TYPE.consume)).toBe(consumed);
    } finally {
      await w.setChannel(w.channelIds[0]!, { status: 1 });
    }
  });
});
