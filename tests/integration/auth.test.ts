import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import type { TestUser } from '../helpers/factories.ts';
import { addUser } from '../helpers/rows.ts';
import { ROOT_TOKEN, startTestServer, type TestServer } from '../helpers/server.ts';

let srv: TestServer;
let common: TestUser;
let banned: TestUser;

beforeAll(async () => {
  srv = await startTestServer();
  common = await addUser(srv.handle);
  banned = await addUser(srv.handle, { status: 2, role: 10 });
});
afterAll(() => srv.stop());

interface Row {
  name: string;
  headers: () => Record<string, string>;
  path: 'self' | 'all';
  status: number;
  trpcCode: string;
  message: string;
}

const rows: Row[] = [
  {
    name: 'no Authorization',
    headers: () => ({ 'new-api-user': '1' }),
    path: 'self',
    status: 401,
    trpcCode: 'UNAUTHORIZED',
    message: 'Unauthorized, not logged in and no access token provided',
  },
  {
    name: 'unknown token',
    headers: () => ({ authorization: 'Bearer nope-nope-nope', 'new-api-user': '1' }),
    path: 'self',
    status: 401,
    trpcCode: 'UNAUTHORIZED',
    message: 'Unauthorized, invalid access token',
  },
  {
    name: 'no New-Api-User',
    headers: () => ({ authorization: `Bearer ${ROOT_TOKEN}` }),
    path: 'self',
    status: 401,
    trpcCode: 'UNAUTHORIZED',
    message: 'Unauthorized, New-Api-User header not provided',
  },
  {
    name: 'New-Api-User not an integer',
    headers: () => ({ authorization: `Bearer ${ROOT_TOKEN}`, 'new-api-user': 'abc' }),
    path: 'self',
    status: 401,
    trpcCode: 'UNAUTHORIZED',
    message: 'Unauthorized, New-Api-User header format error',
  },
  {
    name: 'New-Api-User of another user',
    headers: () => ({ authorization: `Bearer ${ROOT_TOKEN}`, 'new-api-user': String(common.id) }),
    path: 'self',
    status: 401,
    trpcCode: 'UNAUTHORIZED',
    message: 'Unauthorized, New-Api-User does not match logged in user',
  },
  {
    name: 'disabled user',
    headers: () => banned.headers,
    path: 'self',
    status: 403,
    trpcCode: 'FORBIDDEN',
    message: 'User has been banned',
  },
  {
    name: 'role too low',
    headers: () => common.headers,
    path: 'all',
    status: 403,
    trpcCode: 'FORBIDDEN',
    message: 'Unauthorized, insufficient privileges',
  },
];

describe('management auth (SPEC §5.1), REST and tRPC from one implementation', () => {
  for (const row of rows) {
    test(`REST: ${row.name} → ${row.status}`, async () => {
      const res = await fetch(`${srv.url}/api/mj/${row.path === 'self' ? 'self' : ''}`, { headers: row.headers() });
      expect(res.status).toBe(row.status);
      expect(await res.json()).toEqual({ success: false, message: row.message });
    });
    test(`tRPC: ${row.name} → ${row.trpcCode}`, async () => {
      const res = await fetch(`${srv.url}/trpc/mj.${row.path}`, { headers: row.headers() });
      expect(res.status).toBe(row.status);
      const body = (await res.json()) as { error: { message: string; data: { code: string; httpStatus: number } } };
      expect(body.error.message).toBe(row.message);
      expect(body.error.data.code).toBe(row.trpcCode);
    });
  }

  test('a bare token without "Bearer " is accepted', async () => {
    const res = await fetch(`${srv.url}/api/mj/self`, { headers: { authorization: ROOT_TOKEN, 'new-api-user': '1' } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { success: boolean }).success).toBe(true);
  });

  test('an admin passes adminProcedure, a common user passes userProcedure', async () => {
    const admin = await addUser(srv.handle, { role: 10 });
    expect((await fetch(`${srv.url}/api/mj/`, { headers: admin.headers })).status).toBe(200);
    expect((await fetch(`${srv.url}/api/mj/self`, { headers: common.headers })).status).toBe(200);
  });

  test('the typed tRPC client sees the code and status', async () => {
    const { createTRPCClient, httpBatchLink, TRPCClientError } = await import('@trpc/client');
    type AppRouter = import('../../src/trpc/routers/index.ts').AppRouter;
    const client = createTRPCClient<AppRouter>({
      links: [httpBatchLink({ url: `${srv.url}/trpc`, headers: () => common.headers })],
    });
    const err = await client.mj.all.query({}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TRPCClientError);
    const data = (err as InstanceType<typeof TRPCClientError>).data as { code: string; httpStatus: number };
    expect(data.code).toBe('FORBIDDEN');
    expect(data.httpStatus).toBe(403);
    const me = await client.user.self.query();
    expect(me.id).toBe(common.id);
    expect(me).not.toHaveProperty('access_token');
  });
});
