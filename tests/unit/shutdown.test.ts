import { describe, expect, test } from 'bun:test';
import { connect } from 'node:net';
import type { TaskFeed } from '../../src/domain/task-feed.ts';
import { noTaskFeed } from '../../src/domain/task-feed-none.ts';
import { silentLogger } from '../../src/lib/logger.ts';
import { createShutdown, feedEndingOn, type ShutdownSteps } from '../../src/shutdown.ts';
import { waitFor } from '../helpers/server.ts';

/**
 * The shutdown sequence of SPEC §3 on its own (tests/integration/shutdown.test.ts drives it in a
 * real process): background work stops without waiting on connections, a hung step still ends in
 * an exit at the deadline, and a second signal exits at once.
 */

const never = () => new Promise<void>(() => {});

function steps(over: Partial<ShutdownSteps>, exits: number[], events: string[] = []): ShutdownSteps {
  return {
    logger: silentLogger,
    server: () => null,
    endStreams: () => events.push('endStreams'),
    stopWork: async () => {
      events.push('stopWork');
    },
    close: async () => {
      events.push('close');
    },
    exit: ((code: number) => {
      exits.push(code);
      events.push(`exit ${code}`);
    }) as (code: number) => never,
    ...over,
  };
}

describe('shutdown', () => {
  test('background work is stopped while a request still holds its connection; then close and exit 0', async () => {
    const exits: number[] = [];
    const events: string[] = [];
    const server = Bun.serve({
      port: 0,
      hostname: '127.0.0.1',
      fetch: () => never().then(() => new Response('never')),
    });
    const socket = connect(Number(server.port), '127.0.0.1');
    socket.on('error', () => {});
    socket.on('close', () => events.push('connection closed'));
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write('GET /stuck HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitFor(() => server.pendingRequests === 1, 'the request in flight');

    const s = createShutdown(steps({ server: () => server }, exits, events));
    s.onSignal('SIGTERM');
    expect(s.stopping()).toBe(true);
    await waitFor(() => exits.length > 0 && events.includes('connection closed'), 'the exit and the cut connection');
    expect(exits).toEqual([0]);
    // The poller (and its lease) did not wait for the stuck request; the request was cut at the grace.
    expect(events.indexOf('stopWork')).toBeLessThan(events.indexOf('connection closed'));
    expect(events.filter((e) => e !== 'connection closed')).toEqual(['endStreams', 'stopWork', 'close', 'exit 0']);
  });

  test('a step that never ends: exit 1 at the deadline', async () => {
    const exits: number[] = [];
    createShutdown(steps({ stopWork: never, close: never, deadlineMs: 200 }, exits)).onSignal('SIGTERM');
    await waitFor(() => exits.length > 0, 'the deadline');
    expect(exits).toEqual([1]);
  });

  test('a second signal exits at once with 128 + its number', () => {
    for (const [signal, code] of [
      ['SIGTERM', 143],
      ['SIGINT', 130],
    ] as const) {
      const exits: number[] = [];
      const s = createShutdown(steps({ stopWork: never }, exits));
      s.onSignal(signal);
      expect(exits).toEqual([]);
      s.onSignal(signal);
      expect(exits).toEqual([code]);
    }
  });
});

describe('feedEndingOn', () => {
  test('a live subscription ends when shutdown aborts, and its own signal still ends it', async () => {
    const waiting: TaskFeed = {
      publish() {},
      publishWritten() {},
      async *subscribe(_scope, _from, signal) {
        await new Promise((resolve) => signal.addEventListener('abort', resolve));
      },
      watch: noTaskFeed.watch,
    };
    const shutdown = new AbortController();
    const feed = feedEndingOn(waiting, shutdown.signal);
    const ended = feed.subscribe({ userId: 1 }, null, new AbortController().signal, null).next();
    shutdown.abort();
    expect(await ended).toEqual({ done: true, value: undefined });

    const own = new AbortController();
    const other = feedEndingOn(waiting, new AbortController().signal)
      .subscribe({ userId: null }, null, own.signal, null)
      .next();
    own.abort();
    expect(await other).toEqual({ done: true, value: undefined });
  });

  test('the replay bounds reach the feed (a wrapper that dropped them lifted the 8 MiB / 1,000 limit)', async () => {
    const seen: unknown[] = [];
    const recording: TaskFeed = {
      publish() {},
      publishWritten() {},
      async *subscribe(_scope, _from, _signal, bounds) {
        seen.push(bounds);
        yield* [];
      },
      watch(_scope, _from, _signal, bounds, sink) {
        seen.push(bounds);
        sink.end();
      },
    };
    const bounds = { bytes: 8, itemCap: 4, atLeast: () => 0, measure: () => 0 };
    const wrapped = feedEndingOn(recording, new AbortController().signal);
    await wrapped.subscribe({ userId: 1 }, 'x-1-1', new AbortController().signal, bounds).next();
    wrapped.watch({ userId: 1 }, 'x-1-1', new AbortController().signal, bounds, { event() {}, error() {}, end() {} });
    expect(seen).toEqual([bounds, bounds]);
  });
});
