import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import type { TaskRow } from '../../src/contract/rows.ts';
import type { TestUser } from '../helpers/factories.ts';
import { addTask, addUser } from '../helpers/rows.ts';
import { ROOT_HEADERS, startTestServer, type TestServer } from '../helpers/server.ts';

let srv: TestServer;
let alice: TestUser;
let bob: TestUser;
const aliceTasks: TaskRow[] = [];
const BASE = 1_712_000_000_000; // ms

const USER_KEYS = [
  'id',
  'mj_id',
  'action',
  'prompt',
  'prompt_en',
  'status',
  'progress',
  'image_url',
  'video_url',
  'video_urls',
  'submit_time',
  'start_time',
  'finish_time',
  'fail_reason',
  'quota',
  'code',
  'description',
  'state',
  'buttons',
  'properties',
];

interface Envelope<T = Record<string, unknown>> {
  success: boolean;
  message: string;
  data: { items: T[]; total: number; page: number; page_size: number };
}

async function get(path: string, headers: Record<string, string>): Promise<{ status: number; body: Envelope }> {
  const res = await fetch(`${srv.url}${path}`, { headers });
  return { status: res.status, body: (await res.json()) as Envelope };
}

beforeAll(async () => {
  srv = await startTestServer();
  alice = await addUser(srv.handle);
  bob = await addUser(srv.handle);
  // 45 tasks for alice one minute apart on channels 1/2, 5 for bob.
  for (let i = 0; i < 45; i++) {
    aliceTasks.push(
      await addTask(srv.handle, {
        userId: alice.id,
        channelId: (i % 2) + 1,
        mjId: `17120000000000${String(i).padStart(2, '0')}`,
        submitTime: BASE + i * 60_000,
        status: 'SUCCESS',
        progress: '100%',
        quota: 50000,
        code: 1,
        imageUrl: i % 3 === 0 ? '' : `https://cdn.example.com/${i}.png`,
        videoUrls: '',
        buttons: '[{"customId":"x"}]',
        properties: '{"finalPrompt":"a cat"}',
        description: 'Submit success',
      }),
    );
  }
  for (let i = 0; i < 5; i++)
    await addTask(srv.handle, { userId: bob.id, channelId: 3, mjId: `bob${i}`, submitTime: BASE + i * 60_000 });
});
afterAll(() => srv.stop());

describe('GET /api/mj/self', () => {
  test('documented envelope, defaults, newest first, own tasks only', async () => {
    const { status, body } = await get('/api/mj/self', alice.headers);
    expect(status).toBe(200);
    expect(Object.keys(body)).toEqual(['success', 'message', 'data']);
    expect(body.success).toBe(true);
    expect(body.message).toBe('');
    expect(Object.keys(body.data).sort()).toEqual(['items', 'page', 'page_size', 'total']);
    expect(body.data.total).toBe(45);
    expect(body.data.page).toBe(1);
    expect(body.data.page_size).toBe(20);
    expect(body.data.items.length).toBe(20);
    const ids = body.data.items.map((i) => i.id as number);
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    expect(ids[0]).toBe(aliceTasks[44]!.id);
    for (const item of body.data.items) expect(Object.keys(item)).toEqual(USER_KEYS);
  });

  test('item values: JSON strings stay strings, forwarded image links, empty URL stays empty', async () => {
    const { body } = await get('/api/mj/self?page_size=3', alice.headers);
    const [first, second, third] = body.data.items;
    // ids 44, 43, 42 → i=44 has an image, i=42 (divisible by 3) has none
    expect(first!.image_url).toBe(`${srv.deps.serverAddress()}/mj/image/${aliceTasks[44]!.mjId}`);
    expect(third!.image_url).toBe('');
    expect(second!.buttons).toBe('[{"customId":"x"}]');
    expect(second!.properties).toBe('{"finalPrompt":"a cat"}');
    expect(second!.video_urls).toBe('');
    expect(second!.quota).toBe(50000);
    expect(second!.submit_time).toBe(BASE + 43 * 60_000);
  });

  test('paging: p, page_size, the 100 cap, a page past the end', async () => {
    const p3 = await get('/api/mj/self?p=3&page_size=20', alice.headers);
    expect(p3.body.data.items.length).toBe(5);
    expect(p3.body.data.items[4]!.id).toBe(aliceTasks[0]!.id);
    const capped = await get('/api/mj/self?page_size=500', alice.headers);
    expect(capped.status).toBe(200);
    expect(capped.body.data.page_size).toBe(100);
    expect(capped.body.data.items.length).toBe(45);
    const past = await get('/api/mj/self?p=9', alice.headers);
    expect(past.body.data.items).toEqual([]);
    expect(past.body.data.total).toBe(45);
    expect(past.body.data.page).toBe(9);
  });

  test('empty parameters count as absent', async () => {
    const { status, body } = await get(
      '/api/mj/self?p=&page_size=&mj_id=&start_timestamp=&end_timestamp=',
      alice.headers,
    );
    expect(status).toBe(200);
    expect(body.data.total).toBe(45);
    expect(body.data.page_size).toBe(20);
  });

  test("mj_id filter, and another user's mj_id finds nothing", async () => {
    const mine = await get(`/api/mj/self?mj_id=${aliceTasks[7]!.mjId}`, alice.headers);
    expect(mine.body.data.total).toBe(1);
    expect(mine.body.data.items[0]!.id).toBe(aliceTasks[7]!.id);
    const theirs = await get('/api/mj/self?mj_id=bob1', alice.headers);
    expect(theirs.body.data.total).toBe(0);
    expect(theirs.body.data.items).toEqual([]);
  });

  test('timestamps in milliseconds and in seconds, inclusive bounds', async () => {
    const start = BASE + 10 * 60_000;
    const end = BASE + 19 * 60_000;
    const ms = await get(`/api/mj/self?start_timestamp=${start}&end_timestamp=${end}`, alice.headers);
    expect(ms.body.data.total).toBe(10);
    expect(ms.body.data.items.map((i) => i.submit_time)).toContain(start);
    expect(ms.body.data.items.map((i) => i.submit_time)).toContain(end);
    const sec = await get(`/api/mj/self?start_timestamp=${start / 1000}&end_timestamp=${end / 1000}`, alice.headers);
    expect(sec.body.data.total).toBe(10);
    expect(sec.body.data.items.map((i) => i.id)).toEqual(ms.body.data.items.map((i) => i.id));
    const onlyStart = await get(`/api/mj/self?start_timestamp=${BASE / 1000 + 40 * 60}`, alice.headers);
    expect(onlyStart.body.data.total).toBe(5);
    const onlyEnd = await get(`/api/mj/self?end_timestamp=${BASE + 4 * 60_000}`, alice.headers);
    expect(onlyEnd.body.data.total).toBe(5);
  });

  test('filters combine', async () => {
    const t = aliceTasks[12]!;
    const hit = await get(
      `/api/mj/self?mj_id=${t.mjId}&start_timestamp=${t.submitTime}&end_timestamp=${t.submitTime}`,
      alice.headers,
    );
    expect(hit.body.data.total).toBe(1);
    const miss = await get(`/api/mj/self?mj_id=${t.mjId}&start_timestamp=${t.submitTime + 1}`, alice.headers);
    expect(miss.body.data.total).toBe(0);
  });

  const badInputs: Array<[string, string]> = [
    ['p=0', 'p'],
    ['p=abc', 'p'],
    ['p=1.5', 'p'],
    ['p=-2', 'p'],
    ['page_size=0', 'page_size'],
    ['page_size=-1', 'page_size'],
    ['page_size=ten', 'page_size'],
    ['start_timestamp=-1', 'start_timestamp'],
    ['start_timestamp=yesterday', 'start_timestamp'],
    ['end_timestamp=1.5', 'end_timestamp'],
    [`start_timestamp=${BASE + 1}&end_timestamp=${BASE}`, 'start_timestamp'],
    [`start_timestamp=${BASE / 1000 + 1}&end_timestamp=${BASE}`, 'start_timestamp'],
  ];
  for (const [query, param] of badInputs) {
    test(`400 for ${query}, naming ${param}`, async () => {
      const { status, body } = await get(`/api/mj/self?${query}`, alice.headers);
      expect(status).toBe(400);
      expect(body.success).toBe(false);
      expect(body.message).toContain(param);
    });
  }

  test('trailing slash is served too', async () => {
    const { status, body } = await get('/api/mj/self/?page_size=1', alice.headers);
    expect(status).toBe(200);
    expect(body.data.total).toBe(45);
  });
});

describe('GET /api/mj/ (admin)', () => {
  test('all users, with user_id and channel_id, both spellings', async () => {
    for (const path of ['/api/mj/', '/api/mj']) {
      const { status, body } = await get(`${path}?page_size=100`, ROOT_HEADERS);
      expect(status).toBe(200);
      expect(body.data.total).toBe(50);
      const first = body.data.items[0]!;
      expect(Object.keys(first)).toEqual(['id', 'user_id', 'channel_id', ...USER_KEYS.slice(1)]);
      expect(new Set(body.data.items.map((i) => i.user_id))).toEqual(new Set([alice.id, bob.id]));
    }
  });

  test('channel_id filter, alone and with the others', async () => {
    const ch2 = await get('/api/mj/?channel_id=2', ROOT_HEADERS);
    expect(ch2.body.data.total).toBe(22);
    expect(ch2.body.data.items.every((i) => i.channel_id === 2)).toBe(true);
    const ch3 = await get('/api/mj/?channel_id=3&mj_id=bob2', ROOT_HEADERS);
    expect(ch3.body.data.total).toBe(1);
    const ch1Range = await get(
      `/api/mj/?channel_id=1&start_timestamp=${BASE}&end_timestamp=${BASE + 9 * 60_000}`,
      ROOT_HEADERS,
    );
    // alice tasks 0,2,4,6,8 on channel 1 and bob's on channel 3
    expect(ch1Range.body.data.total).toBe(5);
    const range = await get(
      `/api/mj/?start_timestamp=${BASE / 1000}&end_timestamp=${BASE / 1000 + 4 * 60}`,
      ROOT_HEADERS,
    );
    expect(range.body.data.total).toBe(10);
    const bad = await get('/api/mj/?channel_id=x', ROOT_HEADERS);
    expect(bad.status).toBe(400);
    expect(bad.body.message).toContain('channel_id');
  });

  test('the user endpoint ignores channel_id and never shows user_id/channel_id', async () => {
    const { body } = await get('/api/mj/self?channel_id=2', alice.headers);
    expect(body.data.total).toBe(45);
    expect(body.data.items[0]).not.toHaveProperty('user_id');
    expect(body.data.items[0]).not.toHaveProperty('channel_id');
  });
});

describe('REST and tRPC return the same data', () => {
  /** The REST item as tRPC shows it: buttons and properties parsed (SPEC §10), the rest identical. */
  const parsed = (item: Record<string, unknown>) => {
    const buttons = item.buttons ? (JSON.parse(item.buttons as string) as Record<string, unknown>[]) : [];
    return {
      ...item,
      buttons: buttons.map((b) => ({
        customId: b.customId,
        emoji: b.emoji ?? '',
        label: b.label ?? '',
        type: b.type ?? 0,
        style: b.style ?? 0,
      })),
      properties: item.properties ? (JSON.parse(item.properties as string) as unknown) : {},
    };
  };
  const parsedPage = (data: Envelope['data']) => ({ ...data, items: data.items.map(parsed) });
  const trpcData = async (res: Response) => ((await res.json()) as { result: { data: Envelope['data'] } }).result.data;

  test('mj.self and mj.all equal the REST data objects, with buttons and properties parsed', async () => {
    const q = { p: 2, page_size: 7, start_timestamp: BASE / 1000 };
    const rest = await get(`/api/mj/self?p=2&page_size=7&start_timestamp=${BASE / 1000}`, alice.headers);
    const trpc = await trpcData(
      await fetch(`${srv.url}/trpc/mj.self?input=${encodeURIComponent(JSON.stringify(q))}`, { headers: alice.headers }),
    );
    expect(trpc).toEqual(parsedPage(rest.body.data));
    expect(trpc.items[0]).toMatchObject({
      buttons: [{ customId: 'x', emoji: '', label: '', type: 0, style: 0 }],
      properties: { finalPrompt: 'a cat' },
    });
    const restAll = await get('/api/mj/?channel_id=1&page_size=5', ROOT_HEADERS);
    const trpcAll = await fetch(
      `${srv.url}/trpc/mj.all?input=${encodeURIComponent(JSON.stringify({ channel_id: 1, page_size: 5 }))}`,
      { headers: ROOT_HEADERS },
    );
    expect(await trpcData(trpcAll)).toEqual(parsedPage(restAll.body.data));
  });

  test('mj.get returns exactly the listing object, own tasks only for users', async () => {
    const t = aliceTasks[5]!;
    const listed = (await get(`/api/mj/self?mj_id=${t.mjId}`, alice.headers)).body.data.items[0]!;
    const res = await fetch(`${srv.url}/trpc/mj.get?input=${encodeURIComponent(JSON.stringify({ mj_id: t.mjId }))}`, {
      headers: alice.headers,
    });
    expect(((await res.json()) as { result: { data: unknown } }).result.data).toEqual(parsed(listed));
    const foreign = await fetch(
      `${srv.url}/trpc/mj.get?input=${encodeURIComponent(JSON.stringify({ mj_id: t.mjId }))}`,
      { headers: bob.headers },
    );
    expect(foreign.status).toBe(404);
    const adminListed = (await get(`/api/mj/?mj_id=${t.mjId}`, ROOT_HEADERS)).body.data.items[0]!;
    const adminGet = await fetch(
      `${srv.url}/trpc/mj.get?input=${encodeURIComponent(JSON.stringify({ mj_id: t.mjId }))}`,
      { headers: ROOT_HEADERS },
    );
    expect(((await adminGet.json()) as { result: { data: unknown } }).result.data).toEqual(parsed(adminListed));
  });

  test('stored text that is empty, not JSON or of another shape reads as [] / {} in typed outputs, and stays as stored over REST', async () => {
    const cases: Array<[string, string, unknown[], Record<string, unknown>]> = [
      ['', '', [], {}],
      ['not json', '{"a":', [], {}],
      ['{"customId":"x"}', '[1,2]', [], {}],
      [
        '[null, 3, "U1", {"label":"no id"}, {"customId":"c","label":7,"type":"2","style":1,"extra":true}]',
        'null',
        [{ customId: 'c', emoji: '', label: '', type: 0, style: 1 }],
        {},
      ],
    ];
    const dora = await addUser(srv.handle);
    for (const [i, [buttons, properties, wantButtons, wantProperties]] of cases.entries()) {
      const row = await addTask(srv.handle, {
        userId: dora.id,
        mjId: `odd-json-${i}`,
        submitTime: BASE,
        buttons,
        properties,
      });
      const rest = await get(`/api/mj/self?mj_id=${row.mjId}`, dora.headers);
      expect(rest.body.data.items[0]).toMatchObject({ buttons, properties });
      const res = await fetch(
        `${srv.url}/trpc/mj.get?input=${encodeURIComponent(JSON.stringify({ mj_id: row.mjId }))}`,
        { headers: dora.headers },
      );
      expect(res.status).toBe(200);
      expect(((await res.json()) as { result: { data: unknown } }).result.data).toMatchObject({
        buttons: wantButtons,
        properties: wantProperties,
      });
    }
  });

  test('list inputs are numbers over tRPC; REST still reads them from query text', async () => {
    const res = await fetch(`${srv.url}/trpc/mj.self?input=${encodeURIComponent(JSON.stringify({ page_size: '5' }))}`, {
      headers: alice.headers,
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain(
      'page_size must be a positive integer',
    );
    const rest = await get('/api/mj/self?page_size=5', alice.headers);
    expect(rest.body.data.page_size).toBe(5);
  });

  test('tRPC validation errors are BAD_REQUEST naming the field', async () => {
    const res = await fetch(`${srv.url}/trpc/mj.self?input=${encodeURIComponent(JSON.stringify({ page_size: 0 }))}`, {
      headers: alice.headers,
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { message: string; data: { code: string; issues: unknown[] } } };
    expect(body.error.data.code).toBe('BAD_REQUEST');
    expect(body.error.message).toContain('page_size');
    expect(body.error.data.issues.length).toBeGreaterThan(0);
  });
});

describe('image links follow mj_forward_url_enabled', () => {
  test('off shows the stored URL, on shows the gateway URL', async () => {
    const t = aliceTasks[44]!;
    await srv.deps.options.set('mj_forward_url_enabled', false);
    try {
      const off = await get(`/api/mj/self?mj_id=${t.mjId}`, alice.headers);
      expect(off.body.data.items[0]!.image_url).toBe(t.imageUrl);
      const status = await get('/api/status', {});
      expect((status.body.data as unknown as { mj_forward_url_enabled: boolean }).mj_forward_url_enabled).toBe(false);
    } finally {
      await srv.deps.options.set('mj_forward_url_enabled', true);
    }
    const on = await get(`/api/mj/self?mj_id=${t.mjId}`, alice.headers);
    expect(on.body.data.items[0]!.image_url).toBe(`${srv.deps.serverAddress()}/mj/image/${t.mjId}`);
  });

  test('the option is switched through admin.option.update', async () => {
    const t = aliceTasks[44]!;
    const update = (value: boolean) =>
      fetch(`${srv.url}/trpc/admin.option.update`, {
        method: 'POST',
        headers: { ...ROOT_HEADERS, 'content-type': 'application/json' },
        body: JSON.stringify({ key: 'mj_forward_url_enabled', value }),
      });
    expect((await update(false)).status).toBe(200);
    expect((await get(`/api/mj/self?mj_id=${t.mjId}`, alice.headers)).body.data.items[0]!.image_url).toBe(t.imageUrl);
    expect((await update(true)).status).toBe(200);
    expect((await get(`/api/mj/self?mj_id=${t.mjId}`, alice.headers)).body.data.items[0]!.image_url).toContain(
      '/mj/image/',
    );
  });
});

describe('status and health', () => {
  test('GET /api/status and the status procedure', async () => {
    const { status, body } = await get('/api/status', {});
    expect(status).toBe(200);
    expect(body.success).toBe(true);
    const data = body.data as unknown as Record<string, unknown>;
    expect(Object.keys(data)).toEqual([
      'version',
      'server_address',
      'mj_forward_url_enabled',
      'uptime_ms',
      'database',
      'poller',
    ]);
    expect(data.server_address).toBe(srv.deps.serverAddress());
    // The test server runs no poller (UPDATE_TASK=false): it is off, on the suite's database.
    expect(data.database).toBe(srv.backend);
    expect(data.poller).toBe('off');
    const trpc = await fetch(`${srv.url}/trpc/status`);
    expect(((await trpc.json()) as { result: { data: Record<string, unknown> } }).result.data.version).toBe('test');
  });

  test('GET /healthz', async () => {
    const res = await fetch(`${srv.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('ok');
  });
});

describe('totals stay exact when rows change through plain SQL', () => {
  test('insert, move and delete with SQL keep the counters right', async () => {
    const carol = await addUser(srv.handle);
    const { sql } = srv;
    await sql(
      'INSERT INTO tasks (user_id, channel_id, mj_id) VALUES ($1, 9, $2), ($3, 9, $4)',
      carol.id,
      'c1',
      carol.id,
      'c2',
    );
    expect((await get('/api/mj/self', carol.headers)).body.data.total).toBe(2);
    expect((await get('/api/mj/?channel_id=9', ROOT_HEADERS)).body.data.total).toBe(2);
    await sql('UPDATE tasks SET channel_id = 8 WHERE mj_id = $1', 'c1');
    await sql('UPDATE tasks SET user_id = $1 WHERE mj_id = $2', bob.id, 'c2');
    expect((await get('/api/mj/self', carol.headers)).body.data.total).toBe(1);
    expect((await get('/api/mj/?channel_id=9', ROOT_HEADERS)).body.data.total).toBe(1);
    expect((await get('/api/mj/?channel_id=8', ROOT_HEADERS)).body.data.total).toBe(1);
    expect((await get('/api/mj/self', bob.headers)).body.data.total).toBe(6);
    await sql('DELETE FROM tasks WHERE mj_id IN ($1, $2)', 'c1', 'c2');
    expect((await get('/api/mj/self', carol.headers)).body.data.total).toBe(0);
    expect((await get('/api/mj/self', bob.headers)).body.data.total).toBe(5);
    const all = await get('/api/mj/', ROOT_HEADERS);
    const [counted] = await sql<{ n: number }>('SELECT CAST(count(*) AS INTEGER) AS n FROM tasks');
    expect(all.body.data.total).toBe(counted!.n);
  });
});
