import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { addTask } from '../helpers/rows.ts';
import { type Caller, type RelayWorld, relayWorld, SIM_SECRETS } from './relay-fixture.ts';

describe('relay queries: fetch, list-by-condition, image-seed', () => {
  let w: RelayWorld;
  let me: Caller;
  let other: Caller;
  beforeAll(async () => {
    w = await relayWorld();
    me = await w.caller();
    other = await w.caller();
  });
  afterAll(() => w.stop());

  test('fetch answers the instant a submit returned, progress "0%"', async () => {
    const sub = await w.post('/mj/submit/imagine', { prompt: 'instant fox', state: 's' }, me.headers);
    const res = await w.get(`/mj/task/${sub.json.result}/fetch`, me.headers);
    expect(res.status).toBe(200);
    expect(res.res.headers.get('content-type')).toContain('application/json');
    expect(Object.keys(res.json).sort()).toEqual(
      [
        'action',
        'buttons',
        'description',
        'failReason',
        'finishTime',
        'id',
        'imageUrl',
        'progress',
        'promptEn',
        'prompt',
        'properties',
        'startTime',
        'state',
        'status',
        'submitTime',
        'videoUrl',
        'videoUrls',
      ].sort(),
    );
    expect(res.json.id).toBe(sub.json.result);
    expect(res.json.action).toBe('IMAGINE');
    expect(res.json.prompt).toBe('instant fox');
    expect(res.json.state).toBe('s');
    expect(res.json.progress).toBe('0%');
    expect(res.json.imageUrl).toBe('');
    expect(res.json.buttons).toBeNull();
    expect(res.json.videoUrls).toBeNull();
  });

  test('fetch shape: forwarded image link with ?rand while unfinished, arrays and objects parsed', async () => {
    const base = w.srv.deps.serverAddress();
    const running = await addTask(w.srv.handle, {
      userId: me.userId,
      mjId: '1111222233334444',
      status: 'IN_PROGRESS',
      progress: '',
      imageUrl: 'http://up.example/p.webp',
      videoUrls: '["http://up.example/1.mp4","http://up.example/2.mp4"]',
      buttons: '[{"customId":"MJ::JOB::upsample::1::h","label":"U1"}]',
      properties: '{"finalPrompt":"fox --v 7"}',
    });
    const r1 = await w.get(`/mj/task/${running.mjId}/fetch`, me.headers);
    expect(r1.json.imageUrl).toMatch(
      new RegExp(`^${base.replace(/[.:/]/g, '\\$&')}/mj/image/1111222233334444\\?rand=\\d+$`),
    );
    expect(r1.json.progress).toBe('0%');
    expect(r1.json.videoUrls).toEqual([{ url: 'http://up.example/1.mp4' }, { url: 'http://up.example/2.mp4' }]);
    expect(r1.json.buttons).toEqual([{ customId: 'MJ::JOB::upsample::1::h', label: 'U1' }]);
    expect(r1.json.properties).toEqual({ finalPrompt: 'fox --v 7' });

    const done = await addTask(w.srv.handle, {
      userId: me.userId,
      mjId: '1111222233335555',
      status: 'SUCCESS',
      progress: '100%',
      imageUrl: 'http://up.example/f.png',
      buttons: 'not json',
      properties: '[1]',
    });
    const r2 = await w.get(`/mj/task/${done.mjId}/fetch`, me.headers);
    expect(r2.json.imageUrl).toBe(`${base}/mj/image/1111222233335555`);
    expect(r2.json.progress).toBe('100%');
    expect(r2.json.buttons).toBeNull();
    expect(r2.json.properties).toBeNull();

    await w.srv.deps.options.set('mj_forward_url_enabled', false);
    try {
      const r3 = await w.get(`/mj/task/${running.mjId}/fetch`, me.headers);
      expect(r3.json.imageUrl).toBe('http://up.example/p.webp');
    } finally {
      await w.srv.deps.options.set('mj_forward_url_enabled', true);
    }
  });

  test("another user's task and unknown ids are 404 task_not_found", async () => {
    const sub = await w.post('/mj/submit/imagine', { prompt: 'private fox' }, me.headers);
    for (const id of [sub.json.result as string, '0000000000000000']) {
      const res = await w.get(`/mj/task/${id}/fetch`, other.headers);
      expect(res.status).toBe(404);
      expect(res.json).toEqual({ code: 4, description: 'task_not_found', result: null, properties: {} });
    }
  });

  test("list-by-condition returns only the caller's tasks among the ids", async () => {
    const mine1 = (await w.post('/mj/submit/imagine', { prompt: 'one' }, me.headers)).json.result as string;
    const mine2 = (await w.post('/mj/submit/imagine', { prompt: 'two' }, me.headers)).json.result as string;
    const theirs = (await w.post('/mj/submit/imagine', { prompt: 'three' }, other.headers)).json.result as string;
    const res = await w.post('/mj/task/list-by-condition', { ids: [mine1, theirs, 'nope', mine2, mine1] }, me.headers);
    expect(res.status).toBe(200);
    expect((res.json as { id: string }[]).map((t) => t.id)).toEqual([mine1, mine2]);
    expect(res.json[0].prompt).toBe('one');
    const theirView = await w.post('/mj/task/list-by-condition', { ids: [mine1, theirs] }, other.headers);
    expect((theirView.json as { id: string }[]).map((t) => t.id)).toEqual([theirs]);
    expect((await w.post('/mj/task/list-by-condition', { ids: [] }, me.headers)).json).toEqual([]);
    expect((await w.post('/mj/task/list-by-condition', {}, me.headers)).json).toEqual([]);
  });

  test('list-by-condition: more than 500 ids or a bad ids field is 400 code 4', async () => {
    const many = Array.from({ length: 501 }, (_, i) => String(i));
    const res = await w.post('/mj/task/list-by-condition', { ids: many }, me.headers);
    expect(res.status).toBe(400);
    expect(res.json.code).toBe(4);
    expect(res.json.description).toContain('ids');
    const ok = await w.post('/mj/task/list-by-condition', { ids: many.slice(0, 500) }, me.headers);
    expect(ok.status).toBe(200);
    for (const body of [{ ids: 'x' }, { ids: [1, 2] }, [1], 'not json']) {
      const bad = await w.post('/mj/task/list-by-condition', body, me.headers);
      expect(bad.status).toBe(400);
      expect(bad.json.code).toBe(4);
      expect(bad.json.properties).toEqual({});
    }
  });

  test("image-seed is forwarded to the task's channel with its key; status and body pass through", async () => {
    const done = (await w.post('/mj/submit/imagine', { prompt: 'seed fox' }, me.headers)).json.result as string;
    const hang = (await w.post('/mj/submit/imagine', { prompt: 'seed fox --sim-hang' }, me.headers)).json
      .result as string;
    w.sims[0]!.clearRequests();
    const res = await w.get(`/mj-fast/mj/task/${done}/image-seed`, me.headers);
    expect(res.status).toBe(200);
    expect(res.json.code).toBe(1);
    expect(res.json.result).toMatch(/^\d+$/);
    expect(w.sims[0]!.requests.map((r) => [r.method, r.path, r.secret])).toEqual([
      ['GET', `/mj-fast/mj/task/${done}/image-seed`, SIM_SECRETS[0]!],
    ]);
    const unfinished = await w.get(`/mj/task/${hang}/image-seed`, me.headers);
    expect(unfinished.status).toBe(400);
    expect(unfinished.json.code).toBe(4);
    const foreign = await w.get(`/mj/task/${done}/image-seed`, other.headers);
    expect(foreign.status).toBe(404);
    expect(foreign.json.description).toBe('task_not_found');
  });

  test('image-seed: disabled channel 400, upstream down 502', async () => {
    const done = (await w.post('/mj/submit/imagine', { prompt: 'seed fox 2' }, me.headers)).json.result as string;
    await w.setChannel(w.channelIds[0]!, { status: 2 });
    try {
      const res = await w.get(`/mj/task/${done}/image-seed`, me.headers);
      expect(res.status).toBe(400);
      expect(res.json).toEqual({ code: 4, description: 'channel_disabled', result: null, properties: {} });
    } finally {
      await w.setChannel(w.channelIds[0]!, { status: 1 });
    }
    w.sims[0]!.setFault('drop');
    try {
      const res = await w.get(`/mj/task/${done}/image-seed`, me.headers);
      expect(res.status).toBe(502);
      expect(res.json.code).toBe(5);
    } finally {
      w.sims[0]!.setFault('none');
    }
  });
});
