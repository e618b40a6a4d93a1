import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { connect } from 'node:net';
import { addApiKey, addUser, updateRow } from '../helpers/rows.ts';
import { type Caller, type RelayWorld, relayWorld } from './relay-fixture.ts';

/** One raw HTTP/1.1 exchange, for requests fetch() refuses to send (a GET with a body). */
function rawRequest(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(text));
    let out = '';
    socket.on('data', (d) => {
      out += d.toString();
      const end = out.indexOf('\r\n\r\n');
      if (end >= 0) {
        const len = /content-length:\s*(\d+)/i.exec(out.slice(0, end));
        if (len && out.length >= end + 4 + Number(len[1])) socket.end();
      }
    });
    socket.on('end', () => resolve(out));
    socket.on('close', () => resolve(out));
    socket.on('error', reject);
  });
}

describe('relay HTTP edge: auth, validation, CORS, odd requests', () => {
  let w: RelayWorld;
  let c: Caller;
  beforeAll(async () => {
    w = await relayWorld();
    c = await w.caller();
  });
  afterAll(() => w.stop());

  test('every route needs a key: 401 missing_api_key in the OpenAI-style body', async () => {
    const routes: [string, string][] = [
      ['POST', '/mj/submit/imagine'],
      ['POST', '/mj/submit/change'],
      ['POST', '/mj/submit/simple-change'],
      ['POST', '/mj/submit/describe'],
      ['POST', '/mj/submit/blend'],
      ['POST', '/mj/submit/action'],
      ['POST', '/mj/submit/modal'],
      ['POST', '/mj/submit/shorten'],
      ['POST', '/mj/submit/video'],
      ['POST', '/mj/submit/edits'],
      ['POST', '/mj/submit/upload-discord-images'],
      ['POST', '/mj/insight-face/swap'],
      ['GET', '/mj/task/1/fetch'],
      ['POST', '/mj/task/list-by-condition'],
      ['GET', '/mj/task/1/image-seed'],
      ['POST', '/mj-turbo/mj/submit/imagine'],
      ['GET', '/mj-turbo/mj/task/1/fetch'],
    ];
    for (const [method, path] of routes) {
      const res = await fetch(`${w.srv.url}${path}`, { method, body: method === 'POST' ? '{}' : undefined });
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({
        error: { message: 'missing API key', type: 'mj_gateway_error', code: 'missing_api_key' },
      });
    }
    expect(w.sims[0]!.requests.length).toBe(0);
  });

  test('key failures: invalid, disabled, expired, exhausted → 401; banned user → 403', async () => {
    const u = await addUser(w.srv.handle, { quota: 1_000_000 });
    const cases: [Record<string, string>, number, string][] = [
      [{ authorization: 'Bearer sk-doesnotexist' }, 401, 'invalid_api_key'],
      [(await addApiKey(w.srv.handle, u.id, { status: 2 })).headers, 401, 'token_disabled'],
      [(await addApiKey(w.srv.handle, u.id, { expiredTime: 1000 })).headers, 401, 'token_expired'],
      [(await addApiKey(w.srv.handle, u.id, { unlimited: false, remainQuota: 0 })).headers, 401, 'token_exhausted'],
    ];
    const banned = await addUser(w.srv.handle, { quota: 1_000_000 });
    const bannedKey = await addApiKey(w.srv.handle, banned.id);
    await updateRow(w.srv.handle, 'users', banned.id, { status: 2 });
    cases.push([bannedKey.headers, 403, 'user_banned']);
    for (const [headers, status, code] of cases) {
      const res = await w.post('/mj/submit/imagine', { prompt: 'fox' }, headers);
      expect(res.status).toBe(status);
      expect(res.json.error.code).toBe(code);
      expect(res.json.error.type).toBe('mj_gateway_error');
    }
  });

  test('the key may come from mj-api-secret (also when Authorization is "midjourney-proxy")', async () => {
    const variants: Record<string, string>[] = [
      { 'mj-api-secret': `sk-${c.key}` },
      { authorization: 'midjourney-proxy', 'mj-api-secret': c.key },
    ];
    for (const headers of variants) {
      const res = await w.post('/mj/submit/imagine', { prompt: 'fox' }, headers);
      expect(res.status).toBe(200);
      expect(res.json.code).toBe(1);
    }
  });

  test('malformed bodies are 400 code 4 naming the field; nothing forwarded, nothing charged', async () => {
    const cases: [string, unknown, string][] = [
      ['/mj/submit/imagine', '{not json', 'JSON'],
      ['/mj/submit/imagine', '', 'prompt'],
      ['/mj/submit/imagine', {}, 'prompt'],
      ['/mj/submit/imagine', { prompt: '   ' }, 'prompt'],
      ['/mj/submit/imagine', { prompt: 42 }, 'prompt'],
      ['/mj/submit/imagine', [{ prompt: 'x' }], 'object'],
      ['/mj/submit/imagine', 'null', 'object'],
      ['/mj/submit/imagine', { prompt: 'x', base64Array: 'nope' }, 'base64Array'],
      ['/mj/submit/imagine', { prompt: 'x', state: 7 }, 'state'],
      ['/mj/submit/change', { taskId: '1', action: 'UPSCALE' }, 'index'],
      ['/mj/submit/change', { taskId: '1', action: 'UPSCALE', index: 9 }, 'index'],
      ['/mj/submit/change', { taskId: '1', action: 'DANCE', index: 1 }, 'action'],
      ['/mj/submit/change', { action: 'UPSCALE', index: 1 }, 'taskId'],
      ['/mj/submit/simple-change', { content: 'abc' }, 'content'],
      ['/mj/submit/simple-change', { content: '123 U9' }, 'content'],
      ['/mj/submit/simple-change', { content: { a: 1 } }, 'content'],
      ['/mj/submit/simple-change', {}, 'content'],
      ['/mj/submit/action', { taskId: '1' }, 'customId'],
      ['/mj/submit/action', { taskId: '1', customId: 'garbage' }, 'customId'],
      ['/mj/submit/action', { taskId: '1', customId: 'MJ::' }, 'customId'],
      ['/mj/submit/action', { taskId: '1', customId: 'MJ::JOB::upsample::x::h' }, 'customId'],
      ['/mj/submit/action', { taskId: '1', customId: 'MJ::JOB::dance::1::h' }, 'customId'],
      ['/mj/submit/action', { taskId: '1', customId: '::::::' }, 'customId'],
      ['/mj/submit/action', { taskId: '1', customId: ['MJ::JOB::upsample::1::h'] }, 'customId'],
      ['/mj/submit/modal', {}, 'taskId'],
      ['/mj/submit/blend', { base64Array: ['a'] }, 'base64Array'],
      ['/mj/submit/blend', {}, 'base64Array'],
      ['/mj/submit/blend', { base64Array: ['a', 'b'], dimensions: 'ROUND' }, 'dimensions'],
      ['/mj/submit/describe', {}, 'base64'],
      ['/mj/submit/edits', { prompt: 'x' }, 'image'],
      ['/mj/submit/video', {}, 'prompt'],
      ['/mj/submit/upload-discord-images', { base64Array: [] }, 'base64Array'],
      ['/mj/insight-face/swap', { sourceBase64: 'a' }, 'targetBase64'],
    ];
    const v = await w.caller();
    w.sims[0]!.clearRequests();
    for (const [path, body, field] of cases) {
      const res = await w.post(path, body, v.headers);
      expect({ path, body, status: res.status }).toEqual({ path, body, status: 400 });
      expect(res.json.code).toBe(4);
      expect(res.json.result).toBeNull();
      expect(res.json.properties).toEqual({});
      expect(res.json.description).toContain(field);
    }
    expect(w.sims[0]!.requests.length).toBe(0);
    expect(await w.quota(v.userId)).toBe(10_000_000);
    expect((await w.tasksOf(v.userId)).length).toBe(0);
  });

  test('a GET with Content-Type: application/json is served normally, even with a {} body', async () => {
    const mj = (await w.post('/mj/submit/imagine', { prompt: 'get fox' }, c.headers)).json.result as string;
    const res = await fetch(`${w.srv.url}/mj/task/${mj}/fetch`, {
      headers: { ...c.headers, 'content-type': 'application/json' },
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { id: string }).id).toBe(mj);
    const port = Number(new URL(w.srv.url).port);
    const raw = await rawRequest(
      port,
      [
        `GET /mj/task/${mj}/fetch HTTP/1.1`,
        'Host: 127.0.0.1',
        `Authorization: Bearer sk-${c.key}`,
        'Content-Type: application/json',
        'Content-Length: 2',
        'Connection: close',
        '',
        '{}',
      ].join('\r\n'),
    );
    expect(raw).toStartWith('HTTP/1.1 200');
    expect(raw).toContain(`"id":"${mj}"`);
  });

  test('CORS: a preflight is 204 with the allowed headers', async () => {
    const res = await fetch(`${w.srv.url}/mj/submit/imagine`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://app.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type, mj-api-secret',
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    const allowed = res.headers.get('access-control-allow-headers') ?? '';
    for (const h of ['authorization', 'content-type', 'mj-api-secret', 'new-api-user', 'mj-version'])
      expect(allowed).toContain(h);
    expect(res.headers.get('access-control-allow-methods')).toContain('POST');
  });

  test('CORS: a cross-origin submit, and its errors, carry the CORS headers', async () => {
    const ok = await w.post(
      '/mj/submit/imagine',
      { prompt: 'cors fox' },
      { ...c.headers, origin: 'https://app.example' },
    );
    expect(ok.status).toBe(200);
    expect(ok.res.headers.get('access-control-allow-origin')).toBe('*');
    const unauth = await w.post('/mj/submit/imagine', { prompt: 'cors fox' }, { origin: 'https://app.example' });
    expect(unauth.status).toBe(401);
    expect(unauth.res.headers.get('access-control-allow-origin')).toBe('*');
    const bad = await w.post('/mj/submit/imagine', '{', { ...c.headers, origin: 'https://app.example' });
    expect(bad.status).toBe(400);
    expect(bad.res.headers.get('access-control-allow-origin')).toBe('*');
    const missing = await w.get('/mj/task/404/fetch', { ...c.headers, origin: 'https://app.example' });
    expect(missing.status).toBe(404);
    expect(missing.res.headers.get('access-control-allow-origin')).toBe('*');
  });

  test('an unknown relay path is a JSON 404 in the midjourney-proxy envelope', async () => {
    const res = await w.post('/mj/submit/dance', { prompt: 'x' }, c.headers);
    expect(res.status).toBe(404);
    expect(res.json.code).toBe(4);
    expect(res.json.properties).toEqual({});
  });
});

describe('relay CORS with a restricted origin list', () => {
  let w: RelayWorld;
  beforeAll(async () => {
    w = await relayWorld({ env: { CORS_ORIGINS: 'https://good.example' }, sims: 0 });
  });
  afterAll(() => w.stop());

  test('an allowed origin is echoed; another gets no allow-origin', async () => {
    const c = await w.caller();
    const good = await w.post(
      '/mj/task/list-by-condition',
      { ids: [] },
      { ...c.headers, origin: 'https://good.example' },
    );
    expect(good.status).toBe(200);
    expect(good.res.headers.get('access-control-allow-origin')).toBe('https://good.example');
    const evil = await w.post(
      '/mj/task/list-by-condition',
      { ids: [] },
      { ...c.headers, origin: 'https://evil.example' },
    );
    expect(evil.res.headers.get('access-control-allow-origin')).toBeNull();
  });
});
