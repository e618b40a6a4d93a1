import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { createTRPCClient, httpBatchLink, httpLink } from '@trpc/client';
import type { AppRouter } from '../../src/trpc/routers/index.ts';
import { createTestUser, type TestUser } from '../helpers/factories.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

/**
 * Procedures without input, called the ways clients call them (issue 14, point 11): tRPC's own
 * `httpLink` sends a mutation without input as a POST with `content-type: application/json` and
 * no body at all; `httpBatchLink` sends `{}`; curl sends nothing or an empty body.
 */

let srv: TestServer;

beforeAll(async () => {
  srv = await startTestServer();
});
afterAll(async () => {
  await srv.stop();
});

/** The token came back, works, and the old one no longer does. */
async function expectRotated(user: TestUser, accessToken: string): Promise<void> {
  expect(accessToken).toMatch(/^[A-Za-z0-9]{20,}$/);
  expect(accessToken).not.toBe(user.accessToken);
  const fresh = await fetch(`${srv.url}/trpc/user.self`, {
    headers: { ...user.headers, authorization: `Bearer ${accessToken}` },
  });
  expect(fresh.status).toBe(200);
  const stale = await fetch(`${srv.url}/trpc/user.self`, { headers: user.headers });
  expect(stale.status).toBe(401);
}

describe('a tRPC mutation without input', () => {
  test('from httpLink (POST, application/json, no body)', async () => {
    const user = createTestUser(srv.db);
    const client = createTRPCClient<AppRouter>({
      links: [httpLink({ url: `${srv.url}/trpc`, headers: () => user.headers })],
    });
    const out = await client.user.regenerateAccessToken.mutate();
    await expectRotated(user, out.access_token);
  });

  test('from httpBatchLink, alone and beside a query', async () => {
    const user = createTestUser(srv.db);
    const client = createTRPCClient<AppRouter>({
      links: [httpBatchLink({ url: `${srv.url}/trpc`, headers: () => user.headers })],
    });
    const [self, out] = await Promise.all([client.user.self.query(), client.user.regenerateAccessToken.mutate()]);
    expect(self.id).toBe(user.id);
    await expectRotated(user, out.access_token);
  });

  for (const [what, init] of [
    ['no body', {}],
    ["an empty body (curl -d '')", { body: '' }],
  ] as const) {
    test(`from plain fetch with ${what}`, async () => {
      const user = createTestUser(srv.db);
      const res = await fetch(`${srv.url}/trpc/user.regenerateAccessToken`, {
        method: 'POST',
        headers: { ...user.headers, 'content-type': 'application/json' },
        ...init,
      });
      const body = (await res.json()) as { result?: { data: { access_token: string } } };
      expect(res.status).toBe(200);
      await expectRotated(user, body.result!.data.access_token);
    });
  }

  test('a batch POST with an empty body runs its call without input', async () => {
    const user = createTestUser(srv.db);
    const res = await fetch(`${srv.url}/trpc/user.regenerateAccessToken?batch=1`, {
      method: 'POST',
      headers: { ...user.headers, 'content-type': 'application/json' },
      body: '',
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as [{ result: { data: { access_token: string } } }];
    await expectRotated(user, body[0].result.data.access_token);
  });

  test('a bare POST without content type or body (curl -X POST) runs too', async () => {
    const user = createTestUser(srv.db);
    const res = await fetch(`${srv.url}/trpc/user.regenerateAccessToken`, { method: 'POST', headers: user.headers });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { result: { data: { access_token: string } } };
    await expectRotated(user, body.result.data.access_token);
  });

  test('a body that is not JSON is still a 400', async () => {
    const user = createTestUser(srv.db);
    const res = await fetch(`${srv.url}/trpc/user.regenerateAccessToken`, {
      method: 'POST',
      headers: { ...user.headers, 'content-type': 'application/json' },
      body: '{',
    });
    expect(res.status).toBe(400);
    const stale = await fetch(`${srv.url}/trpc/user.self`, { headers: user.headers });
    expect(stale.status).toBe(200);
  });
});
