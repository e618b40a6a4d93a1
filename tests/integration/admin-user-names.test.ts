import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { createTRPCClient, httpBatchLink, TRPCClientError } from '@trpc/client';
import type { AppRouter } from '../../src/trpc/routers/index.ts';
import { createTestUser, type TestUser } from '../helpers/factories.ts';
import { ROOT_HEADERS, startTestServer, type TestServer } from '../helpers/server.ts';

/** admin.user.names: the names the All-tasks table shows for the owners on one page. */

let srv: TestServer;
let ada: TestUser;

const clientFor = (headers: Record<string, string>) =>
  createTRPCClient<AppRouter>({ links: [httpBatchLink({ url: `${srv.url}/trpc`, headers: () => headers })] });

async function refusal(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TRPCClientError);
  const e = err as TRPCClientError<AppRouter>;
  return { code: (e.data as { code: string }).code, message: e.message };
}

beforeAll(async () => {
  srv = await startTestServer();
  ada = createTestUser(srv.db, { username: 'ada' });
  srv.db.$client.run("UPDATE users SET display_name = 'Ada Lovelace' WHERE id = ?", [ada.id]);
});
afterAll(() => srv.stop());

describe('admin.user.names', () => {
  test('names the given users once each and leaves out unknown ids', async () => {
    const names = await clientFor(ROOT_HEADERS).admin.user.names.query({ ids: [ada.id, 1, ada.id, 999_999] });
    expect(names.sort((a, b) => a.id - b.id)).toEqual([
      { id: 1, username: 'root', display_name: 'Root' },
      { id: ada.id, username: 'ada', display_name: 'Ada Lovelace' },
    ]);
  });

  test('is bounded to one page of ids and for admins only', async () => {
    const ids = Array.from({ length: 101 }, (_, i) => i + 1);
    expect(await refusal(clientFor(ROOT_HEADERS).admin.user.names.query({ ids }))).toEqual({
      code: 'BAD_REQUEST',
      message: 'ids holds at most 100 ids',
    });
    expect((await refusal(clientFor(ada.headers).admin.user.names.query({ ids: [1] }))).code).toBe('FORBIDDEN');
  });
});
