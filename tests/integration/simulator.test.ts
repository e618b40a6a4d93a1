import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'bun:test';
import { inflateSync } from 'node:zlib';
import { ManualClock } from '../../src/lib/clock.ts';
import { type Simulator, startSimulator, type TaskView } from '../../src/simulator/index.ts';

const STEP = 1000;
const SECRET = 'sim-secret';
const SIZE = 64;

interface Vo {
  code: number;
  description: string;
  result: unknown;
  properties: Record<string, unknown>;
}

let sim: Simulator;
const clock = new ManualClock(1_790_000_000_000);

async function call(
  method: string,
  path: string,
  body?: unknown,
  secret: string | null = SECRET,
): Promise<{ status: number; json: unknown }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (secret !== null) headers['mj-api-secret'] = secret;
  const res = await fetch(sim.url + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text === '' ? null : (JSON.parse(text) as unknown) };
}

async function submit(path: string, body: unknown): Promise<{ status: number; vo: Vo }> {
  const r = await call('POST', path, body);
  return { status: r.status, vo: r.json as Vo };
}

async function fetchTask(id: string): Promise<TaskView> {
  const r = await call('GET', `/mj/task/${id}/fetch`);
  expect(r.status).toBe(200);
  return r.json as TaskView;
}

async function imagine(prompt: string): Promise<string> {
  const { vo } = await submit('/mj/submit/imagine', { prompt });
  expect(vo.code).toBe(1);
  return vo.result as string;
}

/** Submits and moves the clock far enough for the task to finish. */
async function finished(prompt: string): Promise<TaskView> {
  const id = await imagine(prompt);
  clock.advance(20 * STEP);
  const t = await fetchTask(id);
  expect(t.status).toBe('SUCCESS');
  return t;
}

function readU32(b: Uint8Array, at: number): number {
  return new DataView(b.buffer, b.byteOffset).getUint32(at);
}

beforeAll(async () => {
  sim = await startSimulator({ secret: SECRET, clock, stepMs: STEP, imageSize: SIZE, slowMs: 300 });
});
afterAll(async () => {
  await sim.stop();
});
beforeEach(() => {
  sim.setFault('none');
});

describe('auth and routing', () => {
  test('mj-api-secret is required on /mj, not on /sim', async () => {
    for (const secret of [null, 'wrong']) {
      const r = await call('POST', '/mj/submit/imagine', { prompt: 'cat' }, secret);
      expect(r.status).toBe(401);
      expect(r.json).toBeNull();
    }
    expect((await call('GET', '/mj/task/list', undefined, SECRET)).status).toBe(200);
    expect(await (await fetch(`${sim.url}/sim/health`)).text()).toBe('ok');
  });

  test('records requests, including a mode prefix', async () => {
    sim.clearRequests();
    const { vo } = await submit('/mj-fast/mj/submit/imagine', { prompt: 'fast cat', state: 's1' });
    expect(vo.code).toBe(1);
    expect(sim.requests).toEqual([
      { method: 'POST', path: '/mj-fast/mj/submit/imagine', secret: SECRET, body: { prompt: 'fast cat', state: 's1' } },
    ]);
    expect((await fetchTask(vo.result as string)).state).toBe('s1');
    sim.clearRequests();
    expect(sim.requests).toHaveLength(0);
  });

  test('unknown route is 404 and bad JSON is 400 code 4', async () => {
    expect((await call('GET', '/mj/nope')).status).toBe(404);
    const res = await fetch(`${sim.url}/mj/submit/imagine`, {
      method: 'POST',
      headers: { 'mj-api-secret': SECRET },
      body: '{nope',
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as Vo).code).toBe(4);
  });
});

describe('imagine lifecycle', () => {
  test('NOT_START → SUBMITTED → IN_PROGRESS → SUCCESS with buttons and a real PNG', async () => {
    const submitAt = clock.now();
    const { status, vo } = await submit('/mj/submit/imagine', {
      prompt: 'a red fox --v 6.1',
      notifyHook: 'http://hook',
    });
    expect(status).toBe(200);
    expect(vo).toMatchObject({ code: 1, properties: { discordInstanceId: expect.any(String) } });
    const id = vo.result as string;
    expect(id).toMatch(/^\d{16}$/);
    expect(id.slice(0, 13)).toBe(String(submitAt));

    let t = await fetchTask(id);
    expect(t).toMatchObject({
      status: 'NOT_START',
      progress: null,
      startTime: null,
      finishTime: null,
      imageUrl: null,
      failReason: null,
      buttons: [],
    });
    expect(t).toMatchObject({
      action: 'IMAGINE',
      prompt: 'a red fox --v 6.1',
      description: '/imagine a red fox --v 6.1',
      submitTime: submitAt,
    });
    for (const key of ['videoUrl', 'videoUrls', 'state', 'promptEn', 'properties']) expect(key in t).toBe(true);
    expect(t.properties.notifyHook).toBe('http://hook');

    clock.advance(STEP);
    t = await fetchTask(id);
    expect(t).toMatchObject({ status: 'SUBMITTED', progress: '0%', startTime: submitAt + STEP });

    const seen: string[] = [];
    for (let i = 0; i < 7; i++) {
      clock.advance(STEP);
      t = await fetchTask(id);
      expect(t.status).toBe('IN_PROGRESS');
      expect(t.imageUrl).toBe(`${sim.url}/images/${id}_grid_0.png`);
      seen.push(t.progress ?? '');
    }
    expect(seen).toEqual(['0%', '15%', '31%', '46%', '62%', '78%', '93%']);
    const preview = await fetch(t.imageUrl ?? '');
    expect(preview.status).toBe(200);
    await preview.arrayBuffer();

    clock.advance(STEP);
    t = await fetchTask(id);
    expect(t).toMatchObject({ status: 'SUCCESS', progress: '100%', finishTime: submitAt + 9 * STEP, failReason: null });
    const hash = t.properties.messageHash as string;
    expect(hash).toMatch(/^[0-9a-f-]{36}$/);
    expect(t.properties.finalPrompt).toBe('a red fox --v 6.1');
    expect(t.properties.nonce).toMatch(/^\d+$/);
    expect(t.imageUrl).toMatch(new RegExp(`/images/user_[A-Za-z0-9_]+_${hash}\\.png$`));
    expect(t.buttons.map((b) => b.label)).toEqual(['U1', 'U2', 'U3', 'U4', '', 'V1', 'V2', 'V3', 'V4']);
    expect(t.buttons[0]).toEqual({
      customId: `MJ::JOB::upsample::1::${hash}`,
      emoji: '',
      label: 'U1',
      style: 2,
      type: 2,
    });
    expect(t.buttons[4]).toMatchObject({ customId: `MJ::JOB::reroll::0::${hash}::SOLO`, emoji: '🔄' });

    const res = await fetch(t.imageUrl ?? '');
    expect(res.headers.get('content-type')).toBe('image/png');
    const png = new Uint8Array(await res.arrayBuffer());
    expect(Number(res.headers.get('content-length'))).toBe(png.length);
    expect(Array.from(png.subarray(0, 8))).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    expect(new TextDecoder().decode(png.subarray(12, 16))).toBe('IHDR');
    expect([readU32(png, 16), readU32(png, 20)]).toEqual([SIZE, SIZE]);
    const idatLen = readU32(png, 33);
    expect(new TextDecoder().decode(png.subarray(37, 41))).toBe('IDAT');
    expect(inflateSync(png.subarray(41, 41 + idatLen)).length).toBe((SIZE * 3 + 1) * SIZE);
    expect((await call('GET', `/mj/task/${id}/image-seed`)).json).toMatchObject({
      code: 1,
      result: expect.stringMatching(/^\d+$/),
    });
  });

  test('ids are unique 16-digit strings even within one clock millisecond', async () => {
    const ids = new Set<string>();
    for (let i = 0; i < 100; i++) ids.add(await imagine(`same ms ${i}`));
    expect(ids.size).toBe(100);
  });

  test('validation: blank prompt is code 4', async () => {
    expect((await submit('/mj/submit/imagine', { prompt: '  ' })).vo).toEqual({
      code: 4,
      description: expect.any(String),
      result: null,
      properties: {},
    });
  });
});

describe('prompt flags', () => {
  test('--sim-fail ends FAILURE with a reason and empty progress', async () => {
    const id = await imagine('cat --sim-fail');
    clock.advance(3 * STEP);
    expect((await fetchTask(id)).status).toBe('IN_PROGRESS');
    clock.advance(20 * STEP);
    const t = await fetchTask(id);
    expect(t).toMatchObject({
      status: 'FAILURE',
      progress: '',
      failReason: '[Invalid parameter] simulated failure',
      imageUrl: null,
    });
    expect(t.finishTime).toBeNumber();
  });

  test('--sim-banned is code 24 without a task', async () => {
    const before = sim.taskCount();
    const { vo } = await submit('/mj/submit/imagine', { prompt: 'bad --sim-banned' });
    expect(vo).toMatchObject({
      code: 24,
      result: null,
      properties: { promptEn: 'bad --sim-banned', bannedWord: expect.any(String) },
    });
    expect(sim.taskCount()).toBe(before);
  });

  test('--sim-queued is code 22 and the task still runs', async () => {
    const { vo } = await submit('/mj/submit/imagine', { prompt: 'wait --sim-queued' });
    expect(vo).toMatchObject({
      code: 22,
      description: 'In queue, there are 1 tasks ahead',
      properties: { numberOfQueues: 1 },
    });
    clock.advance(20 * STEP);
    expect((await fetchTask(vo.result as string)).status).toBe('SUCCESS');
  });

  test('--sim-queue-full is code 23 without a task', async () => {
    const before = sim.taskCount();
    expect((await submit('/mj/submit/imagine', { prompt: 'x --sim-queue-full' })).vo).toMatchObject({
      code: 23,
      result: null,
    });
    expect(sim.taskCount()).toBe(before);
  });

  test('--sim-hang stays IN_PROGRESS', async () => {
    const id = await imagine('x --sim-hang');
    clock.advance(1000 * STEP);
    expect((await fetchTask(id)).status).toBe('IN_PROGRESS');
  });

  test('--sim-code=N answers code N', async () => {
    for (const code of [3, 4, 9]) {
      expect((await submit('/mj/submit/imagine', { prompt: `x --sim-code=${code}` })).vo).toEqual({
        code,
        description: `simulated code ${code}`,
        result: null,
        properties: {},
      });
    }
  });

  test('--sim-existed is code 21 with a finished task and a real image', async () => {
    const { vo } = await submit('/mj/submit/imagine', { prompt: 'old --sim-existed' });
    expect(vo).toMatchObject({ code: 21, properties: { status: 'SUCCESS' } });
    const t = await fetchTask(vo.result as string);
    expect(t.status).toBe('SUCCESS');
    expect(t.imageUrl).toBe(vo.properties.imageUrl as string);
    expect((await fetch(t.imageUrl ?? '')).status).toBe(200);
  });

  test('--sim-slow answers only after slowMs', async () => {
    let answered = false;
    const early = call('POST', '/mj/submit/imagine', { prompt: 'x --sim-slow' }).then((r) => {
      answered = true;
      return r;
    });
    const aborted = fetch(`${sim.url}/mj/submit/imagine`, {
      method: 'POST',
      headers: { 'mj-api-secret': SECRET },
      body: JSON.stringify({ prompt: 'y --sim-slow' }),
      signal: AbortSignal.timeout(50),
    });
    await expect(aborted).rejects.toThrow();
    expect(answered).toBe(false);
    const r = await early;
    expect((r.json as Vo).code).toBe(1);
  });
});

describe('follow-ups', () => {
  test('action: upscale, upscale buttons, custom zoom modal, modal confirm', async () => {
    const parent = await finished('a lighthouse');
    const u1 = parent.buttons[0]?.customId ?? '';
    const up = await submit('/mj/submit/action', { taskId: parent.id, customId: u1 });
    expect(up.vo.code).toBe(1);
    clock.advance(20 * STEP);
    const upscaled = await fetchTask(up.vo.result as string);
    expect(upscaled).toMatchObject({
      action: 'UPSCALE',
      status: 'SUCCESS',
      prompt: 'a lighthouse',
      description: `/up ${parent.id} U1`,
    });
    expect(upscaled.buttons.map((b) => b.label)).toContain('Custom Zoom');

    const zoom = upscaled.buttons.find((b) => b.customId.startsWith('MJ::CustomZoom::'));
    const modal = await submit('/mj/submit/action', { taskId: upscaled.id, customId: zoom?.customId });
    expect(modal.vo).toMatchObject({
      code: 21,
      description: 'Waiting for window confirm',
      properties: { remix: true },
    });
    const modalId = modal.vo.result as string;
    clock.advance(20 * STEP);
    expect(await fetchTask(modalId)).toMatchObject({ status: 'MODAL', progress: null, action: 'ZOOM' });

    expect((await submit('/mj/submit/modal', { taskId: modalId, prompt: 'a lighthouse --zoom 1.5' })).vo).toMatchObject(
      { code: 1, result: modalId },
    );
    expect((await fetchTask(modalId)).status).toBe('NOT_START');
    expect((await submit('/mj/submit/modal', { taskId: modalId })).vo.code).toBe(4);
    clock.advance(20 * STEP);
    expect(await fetchTask(modalId)).toMatchObject({ status: 'SUCCESS', prompt: 'a lighthouse --zoom 1.5' });

    const inpaint = upscaled.buttons.find((b) => b.customId.startsWith('MJ::Inpaint::'));
    expect((await submit('/mj/submit/action', { taskId: upscaled.id, customId: inpaint?.customId })).vo.code).toBe(21);
    const reroll = await submit('/mj/submit/action', { taskId: parent.id, customId: parent.buttons[4]?.customId });
    expect((await fetchTask(reroll.vo.result as string)).action).toBe('IMAGINE');
    const pan = upscaled.buttons.find((b) => b.customId.includes('pan_left'));
    expect(
      (
        await fetchTask(
          (
            await submit('/mj/submit/action', { taskId: upscaled.id, customId: pan?.customId })
          ).vo.result as string,
        )
      ).action,
    ).toBe('PAN');
  });

  test('action errors: unknown parent 404/3, unfinished parent 4, unknown customId 4, missing fields 4', async () => {
    const missing = await submit('/mj/submit/action', {
      taskId: '1234567890123456',
      customId: 'MJ::JOB::upsample::1::x',
    });
    expect(missing.status).toBe(404);
    expect(missing.vo).toMatchObject({ code: 3, description: '关联任务不存在或已失效', result: null });
    const running = await imagine('still running');
    expect(
      (await submit('/mj/submit/action', { taskId: running, customId: 'MJ::JOB::upsample::1::x' })).vo,
    ).toMatchObject({ code: 4, description: '关联任务状态错误' });
    const done = await finished('done');
    expect((await submit('/mj/submit/action', { taskId: done.id, customId: 'MJ::Nope::1' })).vo.code).toBe(4);
    expect((await submit('/mj/submit/action', { taskId: done.id })).vo.code).toBe(4);
    expect((await submit('/mj/submit/modal', { taskId: '1234567890123456' })).status).toBe(404);
  });

  test('change and simple-change', async () => {
    const parent = await finished('a koi pond');
    const v2 = await submit('/mj/submit/simple-change', { content: `${parent.id} v2` });
    expect(v2.vo.code).toBe(1);
    expect(await fetchTask(v2.vo.result as string)).toMatchObject({
      action: 'VARIATION',
      description: `/up ${parent.id} V2`,
      prompt: 'a koi pond',
    });
    const r = await submit('/mj/submit/simple-change', { content: `${parent.id} R` });
    expect((await fetchTask(r.vo.result as string)).action).toBe('REROLL');
    for (const content of [`${parent.id} U5`, `${parent.id}`, `${parent.id} U1 extra`, 'x']) {
      expect((await submit('/mj/submit/simple-change', { content })).vo.code).toBe(4);
    }
    const unknown = await submit('/mj/submit/change', { taskId: '1234567890123456', action: 'UPSCALE', index: 1 });
    expect(unknown.status).toBe(200);
    expect(unknown.vo.code).toBe(3);
    expect((await submit('/mj/submit/change', { taskId: parent.id, action: 'UPSCALE' })).vo.code).toBe(4);
    expect((await submit('/mj/submit/change', { taskId: parent.id, action: 'ZOOM', index: 1 })).vo.code).toBe(4);
  });
});

describe('other submits', () => {
  const dataUrl = 'data:image/png;base64,iVBORw0KGgo=';

  test('describe ends with four suggestions', async () => {
    expect((await submit('/mj/submit/describe', {})).vo.code).toBe(4);
    const { vo } = await submit('/mj/submit/describe', { base64: dataUrl });
    clock.advance(20 * STEP);
    const t = await fetchTask(vo.result as string);
    expect(t).toMatchObject({ action: 'DESCRIBE', status: 'SUCCESS' });
    expect(t.prompt.split('\n\n')).toHaveLength(4);
    expect(t.prompt.startsWith('1️⃣ ')).toBe(true);
    expect(t.properties.finalPrompt).toBe(t.prompt);
    const pick = await submit('/mj/submit/action', { taskId: t.id, customId: 'MJ::Job::PicReader::2' });
    expect(pick.vo.code).toBe(21);
  });

  test('blend needs 2..5 data URLs', async () => {
    expect((await submit('/mj/submit/blend', { base64Array: [dataUrl] })).vo.code).toBe(4);
    expect((await submit('/mj/submit/blend', { base64Array: [dataUrl, 'nope'] })).vo.code).toBe(4);
    expect((await submit('/mj/submit/blend', { base64Array: [dataUrl, dataUrl], dimensions: 'WIDE' })).vo.code).toBe(4);
    expect(
      (await submit('/mj/submit/blend', { base64Array: [dataUrl, dataUrl], dimensions: 'PORTRAIT' })).vo.code,
    ).toBe(1);
  });

  test('video ends with videoUrl and videoUrls', async () => {
    const { vo } = await submit('/mj/submit/video', { prompt: 'waves', motion: 'high' });
    clock.advance(20 * STEP);
    const t = await fetchTask(vo.result as string);
    expect(t).toMatchObject({ action: 'VIDEO', status: 'SUCCESS' });
    expect(t.videoUrls).toEqual([{ url: t.videoUrl ?? '' }]);
    expect((await fetch(t.videoUrl ?? '')).status).toBe(200);
    expect(
      (await submit('/mj/submit/video', { prompt: 'x', action: 'extend', taskId: '1234567890123456' })).status,
    ).toBe(404);
  });

  test('shorten, edits, swap create tasks; upload returns resolvable URLs', async () => {
    expect((await submit('/mj/submit/shorten', { prompt: 'a very long prompt about cats' })).vo.code).toBe(1);
    expect((await submit('/mj/submit/edits', { prompt: 'edit', image: dataUrl })).vo.code).toBe(1);
    expect((await submit('/mj/submit/edits', { prompt: 'edit' })).vo.code).toBe(4);
    expect(
      (await submit('/mj/insight-face/swap', { sourceBase64: dataUrl, targetBase64: 'data:image/png;base64,AAAA' })).vo
        .code,
    ).toBe(1);
    const before = sim.taskCount();
    const { vo } = await submit('/mj/submit/upload-discord-images', { base64Array: [dataUrl, dataUrl] });
    expect(vo).toMatchObject({ code: 1, properties: {} });
    const urls = vo.result as string[];
    expect(urls).toHaveLength(2);
    expect(sim.taskCount()).toBe(before);
    expect((await fetch(urls[0] ?? '')).headers.get('content-type')).toBe('image/png');
  });
});

describe('queries', () => {
  test('list-by-condition skips unknown ids; list has the latest first', async () => {
    const a = await imagine('list a');
    const b = await imagine('list b');
    const r = await call('POST', '/mj/task/list-by-condition', { ids: [a, '9999999999999999', b] });
    expect((r.json as TaskView[]).map((t) => t.id)).toEqual([a, b]);
    expect((await call('POST', '/mj/task/list-by-condition', {})).json).toEqual([]);
    const list = (await call('GET', '/mj/task/list')).json as TaskView[];
    expect(list[0]?.id).toBe(b);
    expect(list.length).toBeLessThanOrEqual(100);
  });

  test('image-seed: 404 unknown, 400 unfinished', async () => {
    const unknown = await call('GET', '/mj/task/1234567890123456/image-seed');
    expect(unknown.status).toBe(404);
    expect((unknown.json as Vo).code).toBe(3);
    const running = await call('GET', `/mj/task/${await imagine('seedless')}/image-seed`);
    expect(running.status).toBe(400);
    expect((running.json as Vo).code).toBe(4);
  });
});

describe('faults', () => {
  test('http500, garbage, drop, then back to none', async () => {
    sim.setFault('http500');
    expect((await call('GET', '/mj/task/list')).status).toBe(500);
    sim.setFault('garbage');
    const res = await fetch(`${sim.url}/mj/task/list`, { headers: { 'mj-api-secret': SECRET } });
    expect(res.status).toBe(200);
    await expect(res.json()).rejects.toThrow();
    sim.setFault('drop');
    await expect(fetch(`${sim.url}/mj/submit/imagine`, { method: 'POST', body: '{"prompt":"x"}' })).rejects.toThrow();
    sim.setFault('none');
    expect((await call('GET', '/mj/task/list')).status).toBe(200);
  });

  test('forget empties the store and keeps serving', async () => {
    const id = await imagine('to forget');
    sim.setFault('forget');
    expect(sim.taskCount()).toBe(0);
    expect((await call('GET', `/mj/task/${id}/fetch`)).status).toBe(404);
    expect((await call('POST', '/mj/task/list-by-condition', { ids: [id] })).json).toEqual([]);
    expect(await fetchTask(await imagine('after forget'))).toMatchObject({ status: 'NOT_START' });
  });

  test('POST /sim/fault switches faults without auth', async () => {
    const set = await fetch(`${sim.url}/sim/fault`, { method: 'POST', body: JSON.stringify({ fault: 'http500' }) });
    expect(await set.json()).toEqual({ fault: 'http500' });
    expect((await call('GET', '/mj/task/list')).status).toBe(500);
    expect((await fetch(`${sim.url}/sim/fault`, { method: 'POST', body: '{"fault":"bogus"}' })).status).toBe(400);
    await fetch(`${sim.url}/sim/fault`, { method: 'POST', body: JSON.stringify({ fault: 'none' }) });
    expect((await call('GET', '/mj/task/list')).status).toBe(200);
  });
});

describe('images', () => {
  test('ETag/304, Range 206, 416, unknown 404', async () => {
    const t = await finished('range test');
    const url = t.imageUrl ?? '';
    const full = await fetch(url);
    const bytes = new Uint8Array(await full.arrayBuffer());
    const etag = full.headers.get('etag') ?? '';
    expect(etag).toMatch(/^"[0-9a-f]+-[0-9a-f]+"$/);
    expect(full.headers.get('last-modified')).toBeTruthy();
    const again = await fetch(url, { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
    const part = await fetch(url, { headers: { range: 'bytes=8-15' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 8-15/${bytes.length}`);
    expect(Array.from(new Uint8Array(await part.arrayBuffer()))).toEqual(Array.from(bytes.subarray(8, 16)));
    const tail = await fetch(url, { headers: { range: 'bytes=-4' } });
    expect(new Uint8Array(await tail.arrayBuffer())).toEqual(bytes.subarray(bytes.length - 4));
    const bad = await fetch(url, { headers: { range: `bytes=${bytes.length}-` } });
    expect(bad.status).toBe(416);
    expect(bad.headers.get('content-range')).toBe(`bytes */${bytes.length}`);
    expect((await fetch(`${sim.url}/images/user_x_00000000-0000-0000-0000-000000000000.png`)).status).toBe(404);
  });

  test('big image streams exactly N bytes with a PNG header', async () => {
    const n = 5 * 1024 * 1024 + 3;
    const head = await fetch(`${sim.url}/images/big-${n}.png`, { method: 'HEAD' });
    expect(head.headers.get('content-length')).toBe(String(n));
    // Bun drops a handler-set Content-Length on stream bodies (oven-sh/bun#10507): GET is chunked.
    const res = await fetch(`${sim.url}/images/big-${n}.png`);
    let total = 0;
    let first: Uint8Array | null = null;
    for await (const chunk of res.body ?? new ReadableStream<Uint8Array>()) {
      first ??= chunk.slice(0, 8);
      total += chunk.length;
    }
    expect(total).toBe(n);
    expect(Array.from(first ?? [])).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const ranged = await fetch(`${sim.url}/images/big.png?bytes=${n}`, { headers: { range: 'bytes=1-4' } });
    expect(ranged.status).toBe(206);
    expect(new TextDecoder().decode(await ranged.arrayBuffer())).toBe('PNG\r');
    expect((await fetch(`${sim.url}/images/big-${2 ** 31}.png`)).status).toBe(400);
  });
});

describe('stop', () => {
  test('stop() ends a pending --sim-slow request', async () => {
    const own = await startSimulator({ slowMs: 60_000 });
    const pending = fetch(`${own.url}/mj/submit/imagine`, {
      method: 'POST',
      body: JSON.stringify({ prompt: 'z --sim-slow' }),
    });
    while (own.requests.length === 0) await Bun.sleep(5);
    await own.stop();
    await expect(pending).rejects.toThrow();
  });
});
