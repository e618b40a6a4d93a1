import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { listTasks } from '../../src/db/sqlite/listing.ts';
import { LISTING_ITEM_BUDGET_BYTES, MAX_JSON_CHARS, MAX_TEXT_CHARS, MAX_URL_CHARS } from '../../src/domain/bounds.ts';
import type { TestUser } from '../helpers/factories.ts';
import { addApiKey, addTask, addUser } from '../helpers/rows.ts';
import { ROOT_HEADERS, startTestServer, type TestServer, testBackend } from '../helpers/server.ts';

/**
 * SPEC §10: no listing page grows past a few MB, whatever rows operators wrote with SQL. The
 * rows here are the worst a table can hold: megabytes per field, and values just inside each
 * field's own bound made of the characters whose JSON encoding is longest.
 */

const MiB = 1024 * 1024;
/** The ceiling asserted for a page of 100 items (the budget is 48 KiB per item plus fixed fields). */
const PAGE_CEILING = 5 * MiB;
/** Room for megabytes of SQLite reads on a loaded 2-core machine (bunfig's timeout is not applied). */
const ROOM = { timeout: 30_000 };

let srv: TestServer;
let user: TestUser;
let apiKey: Record<string, string>;
const mjIds: string[] = [];

/** Characters by JSON cost: ASCII 1 byte, a quote 2, a control character 6, CJK 3, an emoji 4 per 2 units. */
const FILLERS = ['x', '"', '\u0001', '中', '😀'];

function fill(unit: string, chars: number): string {
  return unit.repeat(Math.ceil(chars / unit.length)).slice(0, chars);
}

beforeAll(async () => {
  srv = await startTestServer({ env: { MJ_FORWARD_URL_ENABLED: 'false' } });
  user = await addUser(srv.handle, { quota: 0 });
  apiKey = (await addApiKey(srv.handle, user.id)).headers;
  // Tens of MB of seed: on SQLite written without syncing (the table is what matters).
  if (srv.backend === 'sqlite') srv.db.$client.run('PRAGMA synchronous=OFF');
  const insert = (...values: unknown[]) =>
    srv.sql(
      `INSERT INTO tasks (user_id, mj_id, action, prompt, prompt_en, description, fail_reason, state,
    image_url, video_url, video_urls, buttons, properties, submit_time, status, progress)
    VALUES ($1, $2, 'IMAGINE', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
      ...values,
    );
  const huge = fill('x', 2 * MiB);
  const hugeJson = JSON.stringify({ finalPrompt: fill('y', 2 * MiB) });
  // Two rows with megabytes in the prompt, its translation and the JSON columns.
  for (let i = 0; i < 2; i++) {
    mjIds.push(`17900000000${i}`);
    await insert(
      user.id,
      mjIds[i]!,
      huge,
      huge,
      'd',
      'f',
      's',
      `https://cdn.example/${fill('x', 10_000)}`,
      '',
      '',
      hugeJson,
      hugeJson,
      Date.now(),
      fill('S', 1000),
      fill('9', 1000),
    );
  }
  // And 98 rows at each field's own bound, in the costliest characters; every tenth with JSON
  // at its 64 KiB bound, the others with JSON small enough to fill what the texts leave.
  for (let i = 0; i < 98; i++) {
    const unit = FILLERS[i % FILLERS.length]!;
    const text = fill(unit, MAX_TEXT_CHARS);
    const json = JSON.stringify([fill(unit, i % 10 === 0 ? MAX_JSON_CHARS - 4 : 2048)]);
    mjIds.push(String(i).padStart(2, '0') + fill(unit, 126));
    await insert(
      user.id,
      mjIds.at(-1)!,
      text,
      text,
      text,
      text,
      text,
      `https://cdn.example/${fill('x', MAX_URL_CHARS - 20)}`,
      fill('v', MAX_URL_CHARS),
      json,
      json,
      json,
      Date.now(),
      fill(unit, 64),
      fill(unit, 64),
    );
  }
  if (srv.backend === 'sqlite') srv.db.$client.run('PRAGMA synchronous=NORMAL');
}, 30_000);
afterAll(() => srv.stop());

async function pageBytes(
  path: string,
  headers: Record<string, string>,
  init: RequestInit = {},
): Promise<{ bytes: number; json: any }> {
  const res = await fetch(`${srv.url}${path}`, { headers, ...init });
  expect(res.status).toBe(200);
  const buf = await res.arrayBuffer();
  return { bytes: buf.byteLength, json: JSON.parse(new TextDecoder().decode(buf)) };
}

describe('listing pages stay small whatever the table holds', () => {
  test('GET /api/mj/self and GET /api/mj/: 100 items under 5 MiB', ROOM, async () => {
    const self = await pageBytes('/api/mj/self?page_size=100', user.headers);
    const all = await pageBytes('/api/mj/?page_size=100', ROOT_HEADERS);
    expect(self.json.data.items).toHaveLength(100);
    expect(all.json.data.items).toHaveLength(100);
    expect(self.bytes).toBeLessThan(PAGE_CEILING);
    expect(all.bytes).toBeLessThan(PAGE_CEILING);
    // The largest page this table yields, for the record.
    console.log(`largest listing page: self ${self.bytes} bytes, admin ${all.bytes} bytes`);
  });

  test('each item is cut to the field bounds and the item budget', ROOM, async () => {
    const { json } = await pageBytes('/api/mj/self?page_size=100', user.headers);
    for (const item of json.data.items as Record<string, unknown>[]) {
      for (const f of ['prompt', 'prompt_en', 'description', 'fail_reason', 'state'])
        expect((item[f] as string).length).toBeLessThanOrEqual(MAX_TEXT_CHARS);
      for (const f of ['image_url', 'video_url']) expect((item[f] as string).length).toBeLessThanOrEqual(MAX_URL_CHARS);
      for (const f of ['buttons', 'properties', 'video_urls']) {
        const v = item[f] as string;
        expect(v.length).toBeLessThanOrEqual(MAX_JSON_CHARS);
        // JSON columns are never cut into invalid JSON: whole, or "".
        if (v !== '') expect(() => JSON.parse(v)).not.toThrow();
      }
      const variable = Object.values(item)
        .filter((v) => typeof v === 'string')
        .reduce((n, v) => n + Buffer.byteLength(JSON.stringify(v)), 0);
      expect(variable).toBeLessThanOrEqual(LISTING_ITEM_BUDGET_BYTES);
    }
    // The mega rows: text cut to 8192, the oversize URL and JSON dropped, never cut.
    const mega = (json.data.items as Record<string, string>[]).filter((i) => mjIds.slice(0, 2).includes(i.mj_id ?? ''));
    expect(mega).toHaveLength(2);
    for (const item of mega) {
      expect(item.prompt).toBe(fill('x', MAX_TEXT_CHARS));
      expect(item.image_url).toBe('');
      expect(item.properties).toBe('');
      expect(item.buttons).toBe('');
    }
  });

  // SQLite's own reader only (listTasks on the file): PostgreSQL's pass does not register it.
  if (testBackend() === 'sqlite')
    test('the page read itself is cut by SQLite: megabyte values never reach JavaScript', ROOM, () => {
      const page = listTasks(srv.db, { userId: user.id }, { page_size: 100 });
      const mega = page.items.filter((r) => mjIds.slice(0, 2).includes(r.mjId));
      expect(mega).toHaveLength(2);
      for (const r of mega) {
        expect(r.prompt).toHaveLength(MAX_TEXT_CHARS + 1);
        expect(r.properties).toHaveLength(MAX_JSON_CHARS + 1);
      }
    });

  test('a real-sized task is shown whole', ROOM, async () => {
    const props = JSON.stringify({ finalPrompt: fill('p', MAX_TEXT_CHARS), flags: 0, messageId: '1234' });
    const buttons = JSON.stringify(
      Array.from({ length: 10 }, (_, i) => ({
        customId: `MJ::JOB::upsample::${i}::abcdef`,
        label: `U${i}`,
        emoji: '',
        style: 2,
        type: 2,
      })),
    );
    const row = await addTask(srv.handle, {
      userId: user.id,
      prompt: fill('a', MAX_TEXT_CHARS),
      promptEn: fill('b', MAX_TEXT_CHARS),
      properties: props,
      buttons,
    });
    const { json } = await pageBytes(`/api/mj/self?mj_id=${row.mjId}`, user.headers);
    expect(json.data.items[0]).toMatchObject({
      prompt: row.prompt,
      prompt_en: row.promptEn,
      properties: props,
      buttons,
    });
  });

  test('the relay views are bounded the same way (fetch, list-by-condition)', ROOM, async () => {
    const one = await pageBytes(`/mj/task/${mjIds[0]}/fetch`, apiKey);
    expect(one.json.prompt).toHaveLength(MAX_TEXT_CHARS);
    expect(one.json.properties).toBeNull();
    const list = await pageBytes(
      '/mj/task/list-by-condition',
      { ...apiKey, 'content-type': 'application/json' },
      {
        method: 'POST',
        body: JSON.stringify({ ids: mjIds }),
      },
    );
    expect(list.json).toHaveLength(100);
    expect(list.bytes).toBeLessThan(PAGE_CEILING);
    console.log(`list-by-condition of 100 ids: ${list.bytes} bytes`);
  });
});
