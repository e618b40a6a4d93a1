import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'bun:test';
import { connect, type Socket } from 'node:net';
import postgres from 'postgres';
import { reconnectBackoffS } from '../../src/db/pg/client.ts';
import { pgServerUrl } from '../helpers/pg.ts';

/**
 * postgres.js when a connection's socket goes away under it (issue 14, faults 1 and 3), as our
 * patch of it (patches/postgres@3.4.9.patch) makes it behave: a query on a connection already
 * closed (a transaction's rollback, a reserved handle) is refused with CONNECTION_CLOSED instead
 * of written to a null socket from a setImmediate (an uncaught TypeError: the process died), and a
 * connection closed with a write pending reconnects cleanly instead of never sending its startup
 * message (every later use of it hung until CONNECT_TIMEOUT: 503 after 5 s, minutes after).
 */

let url: URL;
const uncaught: unknown[] = [];
const onUncaught = (err: unknown) => void uncaught.push(err);

beforeAll(async () => {
  url = new URL(await pgServerUrl());
});
beforeEach(() => {
  uncaught.length = 0;
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUncaught);
});
afterEach(() => {
  process.off('uncaughtException', onUncaught);
  process.off('unhandledRejection', onUncaught);
});

/** A pool of one connection whose sockets the test holds (postgres.js `socket` option). */
function poolWithSockets() {
  const sockets: Socket[] = [];
  // `socket` (a connected socket factory) is a postgres.js option its type declarations leave out.
  const options = {
    max: 1,
    connect_timeout: 3,
    backoff: reconnectBackoffS,
    onnotice: () => {},
    socket: () =>
      new Promise<Socket>((resolve, reject) => {
        const s = connect(Number(url.port), url.hostname);
        s.once('connect', () => {
          sockets.push(s);
          resolve(s);
        });
        s.once('error', reject);
      }),
  };
  const sql = postgres(url.toString(), options as postgres.Options<Record<string, never>>);
  return { sql, sockets };
}

async function ticks(n = 10): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setTimeout(r, 5));
}

const codeOf = (err: unknown) => (err as { code?: string }).code;

describe('postgres.js when the socket closes', () => {
  const opened: postgres.Sql[] = [];
  afterAll(async () => {
    for (const sql of opened) await sql.end({ timeout: 1 }).catch(() => {});
  });

  test('a transaction whose socket closed: its rollback is refused, nothing uncaught, and the pool works again', async () => {
    const { sql, sockets } = poolWithSockets();
    opened.push(sql);
    const tx = sql.begin(async (t) => {
      await t`SELECT 1`;
      sockets[0]!.destroy();
      await ticks();
      await t`SELECT 2`;
    });
    const err = await tx.then(
      () => null,
      (e: unknown) => e,
    );
    expect(codeOf(err)).toMatch(/^CONNECTION_(CLOSED|DESTROYED)$/);
    await ticks();
    expect(uncaught).toEqual([]);
    expect((await sql`SELECT 3 AS n`)[0]!.n).toBe(3);
  });

  test('a reserved connection whose socket closed: its next query is refused, nothing uncaught', async () => {
    const { sql, sockets } = poolWithSockets();
    opened.push(sql);
    const reserved = await sql.reserve();
    await reserved`SELECT 1`;
    sockets[0]!.destroy();
    await ticks();
    const err = await Promise.race([
      reserved`SELECT 2`.then(
        () => null,
        (e: unknown) => e,
      ),
      Bun.sleep(2000).then(() => 'no answer'),
    ]);
    expect(codeOf(err)).toBe('CONNECTION_CLOSED');
    await ticks();
    expect(uncaught).toEqual([]);
    reserved.release();
  });

  test('a socket closed while a write was pending: the next connection sends its startup and answers at once', async () => {
    const { sql, sockets } = poolWithSockets();
    opened.push(sql);
    await sql`SELECT 1`;
    // The query's bytes wait for a setImmediate; the close is seen before it runs.
    const pending = sql`SELECT 2`.then(
      () => 'answered',
      (e: unknown) => codeOf(e),
    );
    sockets[0]!.destroy();
    await pending;
    // Bounded below connect_timeout (3 s): a connection that never sent its startup fails with CONNECT_TIMEOUT.
    const next = await Promise.race([
      sql`SELECT 3 AS n`.then(
        (r) => r[0]!.n as number,
        (e: unknown) => codeOf(e),
      ),
      Bun.sleep(2000).then(() => 'hung'),
    ]);
    expect(next).toBe(3);
    expect(sockets.length).toBe(2);
    expect(uncaught).toEqual([]);
  });
});
