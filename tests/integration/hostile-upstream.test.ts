import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import type { Server } from 'bun';
import { createApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import type { AppDeps } from '../../src/deps.ts';
import { OptionsStore } from '../../src/domain/options.ts';
import { createPoller } from '../../src/jobs/poller.ts';
import { ManualClock } from '../../src/lib/clock.ts';
import { createLogger } from '../../src/lib/logger.ts';
import { createMetrics } from '../../src/lib/metrics.ts';
import { type Parts, pgParts, sqliteParts } from '../helpers/backends.ts';

/**
 * SPEC §10: every number from an upstream is brought into its column's range before it is stored,
 * on both databases alike, and one bad item never spoils the rest of its batch. A real gateway
 * (in this process, with a clock the test moves) on SQLite and on PostgreSQL, a real HTTP upstream
 * whose answers the test writes, and the real poller. Both databases must end with exactly the
 * same rows.
 */

const T0 = 1_790_000_000_000;
const TIMEOUT_MS = 90_000;
const QUOTA = 10_000_000;
const PREFIX = 'hostile';

/** The tiny upstream: submit answers and list-by-condition items as raw JSON text the test sets. */
interface Upstream {
  url: string;
  /** Raw JSON of the next submit answers, in order (then code 1 with the next id). */
  submits: string[];
  /** Raw JSON of each task's list-by-condition item, by upstream id; ids not here are omitted. */
  items: Map<string, string>;
  stop(): void;
}

function startUpstream(): Upstream {
  let next = 0;
  const up: Upstream = { url: '', submits: [], items: new Map(), stop: () => server.stop(true) };
  const server: Server<undefined> = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    async fetch(req) {
      const path = new URL(req.url).pathname;
      const json = (text: string) => new Response(text, { headers: { 'content-type': 'application/json' } });
      if (path.endsWith('/submit/imagine')) {
        return json(
          up.submits.shift() ??
            JSON.stringify({ code: 1, description: 'Submit success', result: `${PREFIX}-${++next}` }),
        );
      }
      if (path.endsWith('/task/list-by-condition')) {
        const { ids } = (await req.json()) as { ids: string[] };
        return json(`[${ids.flatMap((id) => up.items.get(id) ?? []).join(',')}]`);
      }
      return new Response('not found', { status: 404 });
    },
  });
  up.url = `http://127.0.0.1:${server.port}`;
  return up;
}

/** What a backend gives the test: the app, its poller and plain SQL (`$1` placeholders on both). */
interface World {
  url: string;
  key: string;
  userId: number;
  clock: ManualClock;
  lines: Array<Record<string, unknown>>;
  poll(): ReturnType<ReturnType<typeof createPoller>['runOnce']>;
  all<T>(text: string, ...params: unknown[]): Promise<T[]>;
  stop(): Promise<void>;
}

async function openWorld(open: (clock: ManualClock) => Promise<Parts>, upstream: Upstream): Promise<World> {
  const clock = new ManualClock(T0);
  const parts = await open(clock);
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger('debug', {}, (l) => lines.push(JSON.parse(l) as Record<string, unknown>));
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    UPDATE_TASK: 'false',
    TASK_TIMEOUT_MS: String(TIMEOUT_MS),
  });
  const [u] = await parts.all<{ id: number }>(
    "INSERT INTO users (username, quota, created_time) VALUES ('hostile', $1, $2) RETURNING id",
    QUOTA,
    T0,
  );
  const key = 'k'.repeat(48);
  await parts.all(
    'INSERT INTO tokens (user_id, name, key, unlimited_quota, created_time) VALUES ($1, $2, $3, true, $4)',
    u!.id,
    'test',
    key,
    T0,
  );
  await parts.all(
    "INSERT INTO channels (name, base_url, key, created_time) VALUES ('up', $1, 'up-secret', $2)",
    upstream.url,
    T0,
  );
  const options = await OptionsStore.bootstrap(parts.store.options, config.optionOverrides);
  const deps: AppDeps = {
    ...parts,
    config,
    clock,
    options,
    metrics: createMetrics(),
    logger,
    serverAddress: () => 'http://gw.test',
    fetch: globalThis.fetch,
    pollerRole: () => 'off',
    startedAt: T0,
    version: 'test',
  };
  const app = createApp(deps).listen({ port: 0, hostname: '127.0.0.1' });
  const poller = createPoller(deps);
  return {
    url: `http://127.0.0.1:${app.server?.port}`,
    key,
    userId: u!.id,
    clock,
    lines,
    all: parts.all,
    poll: () => poller.runOnce(),
    stop: async () => {
      await poller.stop();
      await app.stop(true);
      await parts.close();
    },
  };
}

async function submit(w: World, prompt: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`${w.url}/mj/submit/imagine`, {
    method: 'POST',
    headers: { authorization: `Bearer sk-${w.key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ prompt }),
  });
  return { status: res.status, text: await res.text() };
}

/** The columns an upstream answer reaches, by upstream id: what both databases must hold alike. */
interface Stored {
  mj_id: string;
  prompt: string;
  prompt_en: string;
  description: string;
  code: number;
  status: string;
  progress: string;
  start_time: number;
  finish_time: number;
  submit_time: number;
  image_url: string;
  fail_reason: string;
  quota: number;
}

async function stored(w: World): Promise<Stored[]> {
  const rows =
    await w.all<Stored>(`SELECT mj_id, prompt, prompt_en, description, code, status, progress, start_time, finish_time, submit_time, image_url, fail_reason, quota
    FROM tasks ORDER BY id`);
  return rows.map((r) => ({
    ...r,
    code: Number(r.code),
    start_time: Number(r.start_time),
    finish_time: Number(r.finish_time),
    submit_time: Number(r.submit_time),
    quota: Number(r.quota),
  }));
}

async function userQuota(w: World): Promise<number> {
  const [u] = await w.all<{ quota: number }>('SELECT quota FROM users WHERE id = $1', w.userId);
  return Number(u!.quota);
}

const warnings = (w: World, field: string) => w.lines.filter((l) => l.level === 'warn' && l.field === field);

/** Every backend's rows at the end, compared with each other after both ran. */
const finalRows = new Map<string, Stored[]>();

const backends: Array<[string, (clock: ManualClock) => Promise<Parts>]> = [
  ['SQLite', sqliteParts],
  ['PostgreSQL', pgParts],
];

for (const [label, open] of backends) {
  describe(`hostile upstream numbers on ${label}`, () => {
    let up: Upstream;
    let w: World;
    let price = 0;
    beforeAll(async () => {
      up = startUpstream();
      w = await openWorld(open, up);
    });
    afterAll(async () => {
      await w?.stop();
      up?.stop();
    });

    test('a submit answer whose code does not fit an integer column is answered, and stored as 0', async () => {
      up.submits.push(
        '{"code":2147483648,"description":"huge\\u0000 code","result":"x-1"}',
        '{"code":1e20,"description":"","result":null}',
      );
      const a = await submit(w, 'code 2^31');
      const b = await submit(w, 'code 1e20');
      // The client gets the upstream's answer (SPEC §7.2), not a 500 from our database.
      expect([a.status, (JSON.parse(a.text) as { code: number }).code]).toEqual([200, 2_147_483_648]);
      expect([b.status, (JSON.parse(b.text) as { code: number }).code]).toEqual([200, 1e20]);
      const rows = await stored(w);
      // U+0000 in the upstream's description is dropped: PostgreSQL refuses it (a client's is a 400: nul-input.test.ts).
      expect(
        rows.map((r) => [r.prompt, r.code, r.status, r.progress, r.fail_reason, r.description, r.quota, r.mj_id]),
      ).toEqual([
        ['code 2^31', 0, 'FAILURE', '100%', 'huge code', 'huge code', 0, 'x-1'],
        ['code 1e20', 0, 'FAILURE', '100%', 'upstream code 100000000000000000000', '', 0, ''],
      ]);
      expect(await userQuota(w)).toBe(QUOTA);
      // Warned once for the channel, however often the upstream repeats it.
      expect(warnings(w, 'code')).toHaveLength(1);
    });

    test('one item with hostile numbers: the good items are written, the bad fields fall back, timeouts still refund', async () => {
      const ids: string[] = [];
      for (let i = 1; i <= 6; i++) {
        const r = await submit(w, `task ${i}`);
        expect(r.status).toBe(200);
        ids.push((JSON.parse(r.text) as { result: string }).result);
      }
      price = (QUOTA - (await userQuota(w))) / 6;
      expect(price).toBeGreaterThan(0);
      const [good, bad, badDone, good2, weird, weirder] = ids as [string, string, string, string, string, string];
      up.items.set(
        good,
        JSON.stringify({
          id: good,
          status: 'SUCCESS',
          progress: '100%',
          startTime: T0 + 100,
          finishTime: T0 + 900,
          imageUrl: 'http://img/1.png',
        }),
      );
      up.items.set(
        bad,
        `{"id":"${bad}","status":"IN_PROGRESS","progress":45,"startTime":1e308,"finishTime":-1e300,"promptEn":"cat\\u0000dog\\ud800"}`,
      );
      up.items.set(
        badDone,
        `{"id":"${badDone}","status":"SUCCESS","progress":"100%","startTime":"99999999999999999999999","finishTime":1.5,"imageUrl":"http://img/3.png"}`,
      );
      up.items.set(
        good2,
        JSON.stringify({ id: good2, status: 'IN_PROGRESS', progress: '30%', startTime: '1790000000200' }),
      );
      up.items.set(
        weird,
        `{"id":"${weird}","status":"IN_PROGRESS","progress":"10%","startTime":true,"finishTime":"NaN"}`,
      );
      up.items.set(
        weirder,
        `{"id":"${weirder}","status":"IN_PROGRESS","progress":"20%","startTime":{},"finishTime":[1]}`,
      );
      w.clock.set(T0 + 1000);
      const tick = await w.poll();
      expect(tick).toMatchObject({
        unfinished: 6,
        updated: 6,
        succeeded: 2,
        invalid: 0,
        refusedRows: 0,
        channelErrors: 0,
      });
      const rows = (await stored(w)).slice(2);
      expect(rows.map((r) => [r.status, r.progress, r.start_time, r.finish_time, r.image_url])).toEqual([
        ['SUCCESS', '100%', T0 + 100, T0 + 900, 'http://img/1.png'],
        ['IN_PROGRESS', '0%', 0, 0, ''],
        ['SUCCESS', '100%', 0, T0 + 1000, 'http://img/3.png'],
        ['IN_PROGRESS', '30%', T0 + 200, 0, ''],
        ['IN_PROGRESS', '10%', 0, 0, ''],
        ['IN_PROGRESS', '20%', 0, 0, ''],
      ]);
      // One warning per field and channel, not per item or tick.
      expect([
        warnings(w, 'startTime').length,
        warnings(w, 'finishTime').length,
        warnings(w, 'progress').length,
      ]).toEqual([1, 1, 1]);
      // PostgreSQL refuses U+0000 in text: dropped on both; a lone surrogate is U+FFFD on both.
      expect(rows[1]!.prompt_en).toBe('catdog\ufffd');
      // The same answer again changes nothing: what was stored compares equal to what came.
      expect(await w.poll()).toMatchObject({ updated: 0, failed: 0 });
      expect([warnings(w, 'startTime').length, warnings(w, 'finishTime').length]).toEqual([1, 1]);

      // Past TASK_TIMEOUT_MS the unfinished ones (hostile values still coming) end and are refunded.
      w.clock.set(T0 + TIMEOUT_MS + 5000);
      const late = await w.poll();
      expect(late).toMatchObject({ timedOut: 4, refunded: 4, refundedQuota: 4 * price });
      const ended = (await stored(w)).slice(2);
      expect(ended.map((r) => [r.status, r.progress, r.quota])).toEqual([
        ['SUCCESS', '100%', price],
        ['FAILURE', '100%', 0],
        ['SUCCESS', '100%', price],
        ['FAILURE', '100%', 0],
        ['FAILURE', '100%', 0],
        ['FAILURE', '100%', 0],
      ]);
      expect(ended[1]!.fail_reason).toBe('upstream task timed out after 1.5 minutes');
      expect(await userQuota(w)).toBe(QUOTA - 2 * price);
    });

    test('a row the database refuses costs only itself: the rest of its batch and its timeouts are written', async () => {
      // A check the domain does not know of, as an operator might add one.
      if (label === 'SQLite') {
        await w.all(
          "CREATE TRIGGER refuse_poison BEFORE UPDATE ON tasks WHEN NEW.image_url = 'http://img/poison.png' BEGIN SELECT RAISE(ABORT, 'poisoned row'); END",
        );
      } else {
        await w.all(`CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN IF NEW.image_url = 'http://img/poison.png' THEN RAISE EXCEPTION 'poisoned row'; END IF; RETURN NEW; END $$`);
        await w.all(
          'CREATE TRIGGER refuse_poison BEFORE UPDATE ON tasks FOR EACH ROW EXECUTE FUNCTION refuse_poison()',
        );
      }
      const base = T0 + 200_000;
      w.clock.set(base);
      // Two rows of a deleted channel, ended without asking any upstream: the refused one costs only itself there too.
      for (const [mjId, url] of [
        ['gone-1', 'http://img/poison.png'],
        ['gone-2', ''],
      ]) {
        await w.all(
          `INSERT INTO tasks (user_id, channel_id, mj_id, action, prompt, submit_time, updated_time, progress, status, image_url)
          VALUES ($1, 999, $2, 'IMAGINE', $2, $3, $3, '0%', 'IN_PROGRESS', $4)`,
          w.userId,
          mjId,
          base,
          url,
        );
      }
      await submit(w, 'stale');
      w.clock.set(base + TIMEOUT_MS);
      const poison = JSON.parse((await submit(w, 'poison')).text) as { result: string };
      const fine = JSON.parse((await submit(w, 'fine')).text) as { result: string };
      up.items.set(
        poison.result,
        JSON.stringify({ id: poison.result, status: 'SUCCESS', progress: '100%', imageUrl: 'http://img/poison.png' }),
      );
      up.items.set(
        fine.result,
        JSON.stringify({ id: fine.result, status: 'SUCCESS', progress: '100%', finishTime: base + TIMEOUT_MS + 10 }),
      );
      w.clock.set(base + TIMEOUT_MS + 20);
      const before = await userQuota(w);
      const tick = await w.poll();
      expect(tick).toMatchObject({
        refusedRows: 2,
        succeeded: 1,
        failed: 2,
        timedOut: 1,
        refunded: 1,
        refundedQuota: price,
      });
      const rows = (await stored(w)).slice(-5);
      expect(rows.map((r) => [r.prompt, r.status, r.progress, r.finish_time])).toEqual([
        ['gone-1', 'IN_PROGRESS', '0%', 0],
        ['gone-2', 'FAILURE', '100%', base + TIMEOUT_MS + 20],
        ['stale', 'FAILURE', '100%', base + TIMEOUT_MS + 20],
        ['poison', '', '0%', 0],
        ['fine', 'SUCCESS', '100%', base + TIMEOUT_MS + 10],
      ]);
      expect(await userQuota(w)).toBe(before + price);
      expect(
        w.lines.filter((l) => l.level === 'warn' && typeof l.error === 'string' && l.error.includes('poisoned row')),
      ).toHaveLength(2);
      finalRows.set(label, await stored(w));
    });
  });
}

test('both databases store exactly the same values for the same upstream answers', () => {
  expect([...finalRows.keys()]).toEqual(['SQLite', 'PostgreSQL']);
  expect(finalRows.get('PostgreSQL')).toEqual(finalRows.get('SQLite')!);
});
