import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { openPgDatabase, type PgDB } from '../../src/db/pg/client.ts';
import { DatabaseUnavailable, isUnavailableError, pingDatabase, withAvailability } from '../../src/db/pg/health.ts';
import { notifyTaskChanges, onOptionsChanged, onTaskChanges, type Unlisten } from '../../src/db/pg/notify.ts';
import { type PrivateCluster, startPrivateCluster } from '../helpers/pg-cluster.ts';
import { waitFor } from '../helpers/server.ts';

/**
 * A database outage on a cluster of this file's own: the server is stopped and started again
 * under live PgDB instances (a listener and a writer, as two replicas), which must report the
 * outage as such and then work again without being re-created.
 */

/** The bound on every wait for the stopped server: the pool's connect_timeout, the ping's timer. */
const CONNECT_TIMEOUT_S = 5;
const PING_TIMEOUT_MS = 5000;

let cluster: PrivateCluster;
let listener: PgDB;
let writer: PgDB;
const unlistens: Unlisten[] = [];
const received: number[] = [];
let taskReconnects = 0;
let optionCalls = 0;

beforeAll(async () => {
  cluster = startPrivateCluster();
  listener = await openPgDatabase(cluster.url, { poolSize: 2, connectTimeoutS: CONNECT_TIMEOUT_S });
  writer = await openPgDatabase(cluster.url, { poolSize: 2, connectTimeoutS: CONNECT_TIMEOUT_S });
  unlistens.push(
    await onTaskChanges(listener, (ids) => received.push(...ids), { onReconnect: () => taskReconnects++ }),
    await onOptionsChanged(listener, () => optionCalls++),
  );
});

afterAll(async () => {
  await Promise.all(unlistens.map((u) => u().catch(() => {})));
  await Promise.all([listener.$client.end({ timeout: 1 }), writer.$client.end({ timeout: 1 })]);
  cluster.stop();
});

async function failure(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => new Error('expected a failure'),
    (err: unknown) => err,
  );
}

/** The error `p` fails with, or 'still waiting' when the configured bound passes first. */
async function failureWithin(p: Promise<unknown>, ms: number): Promise<unknown> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const bound = new Promise<string>((resolve) => (timer = setTimeout(() => resolve('still waiting'), ms)));
  try {
    return await Promise.race([failure(p), bound]);
  } finally {
    clearTimeout(timer);
  }
}

describe('a query error is not an outage', () => {
  test('a unique violation is not classified as unavailable and passes through unchanged', async () => {
    const name = `u${Date.now()}`;
    await writer.$client`INSERT INTO users (username, quota, created_time) VALUES (${name}, 0, 1)`;
    const err = await failure(
      withAvailability(() => writer.$client`INSERT INTO users (username, quota, created_time) VALUES (${name}, 0, 1)`),
    );
    expect((err as { code?: string }).code).toBe('23505');
    expect(isUnavailableError(err)).toBe(false);
    expect(err).not.toBeInstanceOf(DatabaseUnavailable);
    expect(isUnavailableError(new Error('boom'))).toBe(false);
    expect(isUnavailableError(null)).toBe(false);
  });
});

describe('a connection cut by the server', () => {
  test('a terminated backend is an outage for its query; the same pool goes on with a new connection', async () => {
    const sleeper = failure(writer.$client`SELECT pg_sleep(30)`);
    const victim = await waitFor(
      async () =>
        (
          await listener.$client<{ pid: number }[]>`
      SELECT pid FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)' AND state = 'active'`
        )[0],
      'the running query',
    );
    await listener.$client`SELECT pg_terminate_backend(${victim.pid})`;
    const err = await sleeper;
    expect(['57P01', 'CONNECTION_CLOSED']).toContain((err as { code?: string }).code ?? '');
    expect(isUnavailableError(err)).toBe(true);
    expect(await pingDatabase(writer, PING_TIMEOUT_MS)).toBe(true);
  });
});

describe('the server stops and comes back', () => {
  test('while it is down: ping false, queries unavailable; afterwards the same instances work and listen again', async () => {
    expect(await pingDatabase(writer, PING_TIMEOUT_MS)).toBe(true);
    await notifyTaskChanges(writer, [1]);
    await waitFor(() => received.includes(1), 'the first change');

    cluster.halt();
    expect(await pingDatabase(writer, PING_TIMEOUT_MS)).toBe(false);
    const raw = await failure(writer.$client`SELECT 1`);
    expect(isUnavailableError(raw)).toBe(true);
    const wrapped = await failure(withAvailability(() => writer.$client`SELECT count(*) FROM users`));
    expect(wrapped).toBeInstanceOf(DatabaseUnavailable);
    expect((wrapped as Error).message).toBe('database unavailable');
    // Through drizzle too (its errors wrap the driver's).
    const viaDrizzle = await failure(withAvailability(() => writer.query.users.findFirst()));
    expect(viaDrizzle).toBeInstanceOf(DatabaseUnavailable);
    // Request after request keeps failing as unavailable within the connect timeout: the pool's
    // reconnect backoff does not grow past it (postgres.js's default reaches 20 s by the tenth).
    for (let i = 0; i < 10; i++) {
      const err = await failureWithin(
        withAvailability(() => writer.$client`SELECT 1`),
        CONNECT_TIMEOUT_S * 1000,
      );
      expect(err).toBeInstanceOf(DatabaseUnavailable);
    }
    expect(taskReconnects).toBe(0);

    cluster.resume();
    await waitFor(() => pingDatabase(writer, PING_TIMEOUT_MS), 'the writer answers again', 15_000);
    expect(await pingDatabase(listener, PING_TIMEOUT_MS)).toBe(true);
    // The listener re-listened by itself and said so, so its owner can reload what the gap hid.
    await waitFor(() => taskReconnects >= 1 && optionCalls >= 1, 'the listeners re-established', 15_000);
    await notifyTaskChanges(writer, [2, 3]);
    await waitFor(() => received.includes(3), 'a change after the outage', 15_000);
    expect(received).toEqual([1, 2, 3]);

    // Stopping a listener that lived through the reconnect silences it.
    await unlistens[0]!();
    const marker: number[] = [];
    unlistens.push(await onTaskChanges(listener, (ids) => marker.push(...ids)));
    await notifyTaskChanges(writer, [4]);
    await waitFor(() => marker.includes(4), 'the marker listener');
    expect(received).toEqual([1, 2, 3]);
  });
});
