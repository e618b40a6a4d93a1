import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import type { TestUser } from '../helpers/factories.ts';
import { addTask, addUser } from '../helpers/rows.ts';
import { ROOT_HEADERS, startTestServer, type TestServer } from '../helpers/server.ts';

/**
 * The `status` and `action` filters (SPEC §6.1) on the REST listings and over tRPC: exact values,
 * `none` for the empty status, combinable with every other filter, exact totals (from the counted
 * matrix alone or with an owner, through the index with a time range), a 400 naming an unknown value.
 */

let srv: TestServer;
let alice: TestUser;
let bob: TestUser;
const BASE = 1_712_000_000_000;
const STATUSES = ['SUCCESS', 'FAILURE', 'IN_PROGRESS', '', 'SUCCESS', 'NOT_START', 'SUCCESS'];
const ACTIONS = ['IMAGINE', 'UPSCALE', 'IMAGINE', 'VARIATION'];
interface Row {
  status: string;
  action: string;
  channel: number;
  time: number;
  user: number;
}
const rows: Row[] = [];

interface Envelope {
  success: boolean;
  message: string;
  data: { items: Array<Record<string, unknown>>; total: number };
}

async function get(path: string, headers: Record<string, string>): Promise<{ status: number; body: Envelope }> {
  const res = await fetch(`${srv.url}${path}`, { headers });
  return { status: res.status, body: (await res.json()) as Envelope };
}

function expected(pred: (r: Row) => boolean): number {
  return rows.filter(pred).length;
}

beforeAll(async () => {
  srv = await startTestServer();
  alice = await addUser(srv.handle);
  bob = await addUser(srv.handle);
  for (let i = 0; i < 60; i++) {
    const user = i % 5 === 4 ? bob : alice;
    const r: Row = {
      status: STATUSES[i % STATUSES.length]!,
      action: ACTIONS[i % ACTIONS.length]!,
      channel: (i % 3) + 1,
      time: BASE + i * 60_000,
      user: user.id,
    };
    rows.push(r);
    await addTask(srv.handle, {
      userId: r.user,
      channelId: r.channel,
      mjId: `f${i}`,
      submitTime: r.time,
      status: r.status,
      action: r.action,
    });
  }
});
afterAll(() => srv.stop());

describe('status and action filters', () => {
  test('a user: each status (none for the empty one) and each action, exact totals, only matching items', async () => {
    for (const status of ['SUCCESS', 'FAILURE', 'IN_PROGRESS', 'NOT_START', 'SUBMITTED', 'MODAL', 'none']) {
      const stored = status === 'none' ? '' : status;
      const { status: code, body } = await get(`/api/mj/self?status=${status}&page_size=100`, alice.headers);
      expect(code).toBe(200);
      const want = expected((r) => r.user === alice.id && r.status === stored);
      expect({ status, total: body.data.total, items: body.data.items.length }).toEqual({
        status,
        total: want,
        items: want,
      });
      expect(body.data.items.every((i) => i.status === stored)).toBe(true);
    }
    for (const action of ['IMAGINE', 'UPSCALE', 'VARIATION', 'BLEND']) {
      const { body } = await get(`/api/mj/self?action=${action}`, alice.headers);
      expect(body.data.total).toBe(expected((r) => r.user === alice.id && r.action === action));
      expect(body.data.items.every((i) => i.action === action)).toBe(true);
    }
  });

  test('combined with each other, paging, a time range and mj_id', async () => {
    const both = await get('/api/mj/self?status=SUCCESS&action=IMAGINE&page_size=3&p=2', alice.headers);
    const all = rows
      .map((r, i) => ({ ...r, mj: `f${i}` }))
      .filter((r) => r.user === alice.id && r.status === 'SUCCESS' && r.action === 'IMAGINE')
      .reverse();
    expect(both.body.data.total).toBe(all.length);
    expect(both.body.data.items.map((i) => i.mj_id)).toEqual(all.slice(3, 6).map((r) => r.mj));
    const lo = BASE + 10 * 60_000;
    const hi = BASE + 40 * 60_000;
    const ranged = await get(`/api/mj/self?status=SUCCESS&start_timestamp=${lo}&end_timestamp=${hi}`, alice.headers);
    expect(ranged.body.data.total).toBe(
      expected((r) => r.user === alice.id && r.status === 'SUCCESS' && r.time >= lo && r.time <= hi),
    );
    const byId = await get('/api/mj/self?mj_id=f1&action=UPSCALE', alice.headers);
    expect(byId.body.data.total).toBe(1);
    const miss = await get('/api/mj/self?mj_id=f1&action=IMAGINE', alice.headers);
    expect(miss.body.data.total).toBe(0);
  });

  test('admins: across users, with channel_id', async () => {
    const failed = await get('/api/mj/?status=FAILURE', ROOT_HEADERS);
    expect(failed.body.data.total).toBe(expected((r) => r.status === 'FAILURE'));
    const ch = await get('/api/mj/?status=SUCCESS&channel_id=2&action=IMAGINE', ROOT_HEADERS);
    expect(ch.body.data.total).toBe(
      expected((r) => r.status === 'SUCCESS' && r.channel === 2 && r.action === 'IMAGINE'),
    );
    expect(ch.body.data.items.every((i) => i.channel_id === 2)).toBe(true);
  });

  test('totals follow a task whose status moves (and an empty parameter counts as absent)', async () => {
    const before = (await get('/api/mj/self?status=IN_PROGRESS', alice.headers)).body.data.total;
    const success = (await get('/api/mj/self?status=SUCCESS', alice.headers)).body.data.total;
    await srv.sql("UPDATE tasks SET status = 'SUCCESS' WHERE mj_id = 'f2'");
    rows[2]!.status = 'SUCCESS';
    expect((await get('/api/mj/self?status=IN_PROGRESS', alice.headers)).body.data.total).toBe(before - 1);
    expect((await get('/api/mj/self?status=SUCCESS', alice.headers)).body.data.total).toBe(success + 1);
    const empty = await get('/api/mj/self?status=&action=', alice.headers);
    expect(empty.body.data.total).toBe(expected((r) => r.user === alice.id));
  });

  for (const [query, param] of [
    ['status=DONE', 'status'],
    ['status=success', 'status'],
    ['action=FOO', 'action'],
  ] as const) {
    test(`400 for ${query}, naming ${param}`, async () => {
      for (const path of ['/api/mj/self', '/api/mj/']) {
        const { status, body } = await get(`${path}?${query}`, path === '/api/mj/' ? ROOT_HEADERS : alice.headers);
        expect(status).toBe(400);
        expect(body.success).toBe(false);
        expect(body.message).toContain(param);
      }
    });
  }

  test('tRPC mj.self and mj.all take the same filters', async () => {
    const call = async (proc: string, input: unknown, headers: Record<string, string>) => {
      const res = await fetch(`${srv.url}/trpc/${proc}?input=${encodeURIComponent(JSON.stringify(input))}`, {
        headers,
      });
      return { status: res.status, body: (await res.json()) as { result?: { data: { total: number } } } };
    };
    const self = await call('mj.self', { status: 'none' }, alice.headers);
    expect(self.body.result?.data.total).toBe(expected((r) => r.user === alice.id && r.status === ''));
    const all = await call('mj.all', { action: 'VARIATION', channel_id: 1 }, ROOT_HEADERS);
    expect(all.body.result?.data.total).toBe(expected((r) => r.action === 'VARIATION' && r.channel === 1));
    expect((await call('mj.self', { status: 'nope' }, alice.headers)).status).toBe(400);
  });
});
