import { describe, expect, test } from 'bun:test';
import postgres from 'postgres';
import { DatabaseUnavailable, isUnavailableError, pingDatabase, withAvailability } from '../../src/db/pg/health.ts';

/**
 * The classification table, on error shapes as postgres.js and Bun produce them (a `code` on the
 * error, or on its `cause` when drizzle wraps it). The real server's errors are exercised in
 * tests/integration/pg-outage.test.ts; these cover codes a test cannot easily provoke.
 */
const withCode = (code: string, message = 'x') => Object.assign(new Error(message), { code });

describe('isUnavailableError', () => {
  test.each([
    'ECONNREFUSED',
    'ECONNRESET',
    'ETIMEDOUT',
    'EHOSTUNREACH',
    'CONNECT_TIMEOUT',
    'CONNECTION_CLOSED',
    'CONNECTION_DESTROYED',
    'CONNECTION_ENDED',
    '57P01',
    '57P02',
    '57P03',
    '53300',
    '08006',
    '08001',
  ])('%s is an outage', (code) => {
    expect(isUnavailableError(withCode(code))).toBe(true);
    expect(isUnavailableError(new Error('wrapped', { cause: withCode(code) }))).toBe(true);
  });

  test.each([
    '23505',
    '23514',
    '23503',
    '40001',
    '40P01',
    '42P01',
    '22P02',
    'UNSAFE_TRANSACTION',
    'MAX_PARAMETERS_EXCEEDED',
  ])('%s is a query error', (code) => {
    expect(isUnavailableError(withCode(code))).toBe(false);
  });

  test('things that are not errors are not outages', () => {
    expect(isUnavailableError(undefined)).toBe(false);
    expect(isUnavailableError('ECONNREFUSED')).toBe(false);
    expect(isUnavailableError({ code: 57 })).toBe(false);
  });
});

describe('withAvailability', () => {
  test('an outage becomes DatabaseUnavailable without the host in its message', async () => {
    const err = await withAvailability(() =>
      Promise.reject(withCode('ECONNREFUSED', 'connect ECONNREFUSED 10.1.2.3:5432 user secret')),
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatabaseUnavailable);
    expect((err as DatabaseUnavailable).message).toBe('database unavailable');
    expect((err as DatabaseUnavailable).reason).toBe('ECONNREFUSED');
    expect(isUnavailableError(err)).toBe(true);
  });

  test('other errors pass through as they are, and values come back', async () => {
    const original = withCode('23505');
    expect(await withAvailability(() => Promise.reject(original)).catch((e: unknown) => e)).toBe(original);
    expect(await withAvailability(async () => 42)).toBe(42);
  });
});

describe('a server that accepts connections and never answers', () => {
  test('the ping gives up at its timeout, and a query fails as unavailable at the connect timeout', async () => {
    const silent = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } });
    const sql = postgres(`postgres://u:secret@127.0.0.1:${silent.port}/db`, {
      max: 1,
      connect_timeout: 0.3,
      onnotice: () => {},
    });
    try {
      expect(await pingDatabase({ $client: sql }, 100)).toBe(false);
      const err = await withAvailability(() => sql`SELECT 1`).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DatabaseUnavailable);
      expect((err as DatabaseUnavailable).reason).toBe('CONNECT_TIMEOUT');
      expect((err as Error).message).not.toContain('secret');
    } finally {
      await sql.end({ timeout: 0 });
      silent.stop(true);
    }
  });
});
