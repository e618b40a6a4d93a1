import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { OptionsStore } from '../../src/domain/options.ts';
import { relayEnvOf } from '../../src/domain/relay/env.ts';
import { relaySubmitRequest, type SubmitRequest } from '../../src/domain/relay/request.ts';
import { submitTask } from '../../src/domain/relay/submit.ts';
import { typedRequestOf } from '../../src/domain/relay/typed-submit.ts';
import type { RelayCallerInfo, RelayEnv } from '../../src/domain/relay/types.ts';
import { ManualClock } from '../../src/lib/clock.ts';
import { silentLogger } from '../../src/lib/logger.ts';
import { createMetrics } from '../../src/lib/metrics.ts';
import { type Simulator, startSimulator } from '../../src/simulator/index.ts';
import { type Parts, pgParts, sqliteParts } from '../helpers/backends.ts';

/**
 * The row an accepted submit answers with (`mj.submit` no longer reads it back): on SQLite and on
 * PostgreSQL it equals the row as stored, column for column, whether the task is left unfinished,
 * finished at once (an upload, an "already exists" answer with its image), or moved to another
 * channel by failover; and typed and relay requests of the same job write the same row.
 */

const T0 = 1_790_000_000_000;
const SECRET = 'row-secret';
let sim: Simulator;

beforeAll(async () => {
  sim = await startSimulator({ secret: SECRET, clock: new ManualClock(T0), stepMs: 1000, notify: false });
});

afterAll(async () => {
  await sim.stop();
});

interface World {
  parts: Parts;
  env: RelayEnv;
  caller: RelayCallerInfo;
  clock: ManualClock;
  /** Add a channel; `dead` ones refuse connections (so a new job fails over from them). */
  channel(opts: { priority: number; dead?: boolean }): Promise<number>;
}

async function openWorld(open: (clock: ManualClock) => Promise<Parts>): Promise<World> {
  const clock = new ManualClock(T0);
  const parts = await open(clock);
  const options = await OptionsStore.bootstrap(parts.store.options);
  // Time moves while the upstream answers, so the insert, a failover's move and the settle each
  // write their own time.
  const fetchLater = Object.assign(
    (input: string | URL | Request, init?: RequestInit) => {
      clock.advance(7);
      return globalThis.fetch(input, init);
    },
    { preconnect: globalThis.fetch.preconnect },
  );
  const env = relayEnvOf({
    store: parts.store,
    taskStore: parts.taskStore,
    options,
    clock,
    fetch: fetchLater,
    logger: silentLogger,
    metrics: createMetrics(),
    serverAddress: () => 'http://gateway.test',
    taskFeed: parts.taskFeed,
    config: { upstreamTimeoutMs: 10_000 },
  });
  const [u] = await parts.all<{ id: number }>(
    "INSERT INTO users (username, quota, created_time) VALUES ('rows', 100000000, $1) RETURNING id",
    T0,
  );
  const [k] = await parts.all<{ id: number }>(
    "INSERT INTO tokens (user_id, name, key, unlimited_quota, created_time) VALUES ($1, 'k', $2, true, $3) RETURNING id",
    u!.id,
    'r'.repeat(48),
    T0,
  );
  let n = 0;
  const channel = async (opts: { priority: number; dead?: boolean }) => {
    const url = opts.dead ? 'http://127.0.0.1:1' : sim.url;
    const [c] = await parts.all<{ id: number }>(
      'INSERT INTO channels (name, base_url, key, priority, created_time) VALUES ($1, $2, $3, $4, $5) RETURNING id',
      `c${++n}`,
      url,
      SECRET,
      opts.priority,
      T0,
    );
    return c!.id;
  };
  return { parts, env, clock, channel, caller: { userId: u!.id, tokenId: k!.id, unlimitedToken: true } };
}

/** Submit, then check the answered row against the stored one; returns the stored row. */
async function submitAndCompare(w: World, req: SubmitRequest) {
  w.clock.advance(1000);
  const answer = await submitTask(w.env, w.caller, { kind: req.kind, requestId: 'rq', read: () => req });
  expect(answer.accepted).toBe(true);
  const stored = await w.parts.taskStore.tasks.byId(answer.taskId);
  expect(stored).toBeDefined();
  expect(answer.accepted && answer.task).toEqual(stored!);
  return stored!;
}

for (const [name, open] of [
  ['SQLite', sqliteParts],
  ['PostgreSQL', pgParts],
] as const) {
  describe(`accepted submit row on ${name}`, () => {
    let w: World;
    let live: number;
    beforeAll(async () => {
      w = await openWorld(open);
      live = await w.channel({ priority: 0 });
    });
    afterAll(async () => {
      await w.parts.close();
    });

    test('unfinished (code 1 and 22), with state and fields the relay forwards unknown', async () => {
      const typed = await submitAndCompare(w, typedRequestOf({ action: 'IMAGINE', prompt: 'a row cat' }));
      expect([typed.progress, typed.status, typed.startTime]).toEqual(['0%', '', 0]);
      const relay = await submitAndCompare(
        w,
        relaySubmitRequest('imagine', '/mj/submit/imagine', {
          prompt: 'a queued cat --sim-queued',
          state: 'st-1',
          extra: { kept: true },
        }),
      );
      expect([relay.state, relay.code]).toEqual(['st-1', 22]);
    });

    test('typed and relay requests of the same job write the same row', async () => {
      const typed = await submitAndCompare(w, typedRequestOf({ action: 'IMAGINE', prompt: 'a twin cat' }));
      const relay = await submitAndCompare(
        w,
        relaySubmitRequest('imagine', '/mj/submit/imagine', { prompt: 'a twin cat' }),
      );
      const own = ({ id: _i, mjId: _m, submitTime: _s, updatedTime: _u, ...rest }: typeof typed) => rest;
      expect(own(relay)).toEqual(own(typed));
    });

    test('finished at once: an upload, and an existing image (code 21, SUCCESS)', async () => {
      const upload = await submitAndCompare(
        w,
        typedRequestOf({ action: 'UPLOAD', base64Array: ['data:image/png;base64,AAAA'] }),
      );
      expect([upload.progress, upload.status, upload.mjId]).toEqual(['100%', 'SUCCESS', '']);
      const existed = await submitAndCompare(
        w,
        typedRequestOf({ action: 'IMAGINE', prompt: 'an old cat --sim-existed' }),
      );
      expect([existed.progress, existed.code]).toEqual(['100%', 21]);
      expect(existed.imageUrl).not.toBe('');
    });

    test('moved by failover: the row names the channel that answered', async () => {
      const dead = await w.channel({ priority: 10, dead: true });
      const moved = await submitAndCompare(w, typedRequestOf({ action: 'SHORTEN', prompt: 'a moved cat' }));
      expect(moved.channelId).toBe(live);
      expect(moved.channelId).not.toBe(dead);
    });
  });
}
