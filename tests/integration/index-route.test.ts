import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { ROOT_HEADERS, startTestServer, type TestServer } from '../helpers/server.ts';

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer();
});
afterAll(() => srv.stop());

describe('GET /', () => {
  test('a JSON index of the surfaces, each of which is really served', async () => {
    const res = await fetch(`${srv.url}/`, { headers: { accept: 'application/json' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toStartWith('application/json');
    const body = (await res.json()) as {
      name: string;
      version: string;
      server_address: string;
      surfaces: {
        relay: { submit: string[]; fetch: string };
        rest: string[];
        trpc: { endpoint: string; procedures: string[] };
        image: string;
        health: string;
        status: string;
      };
    };
    expect(body.name).toBe('mj-gateway');
    expect(body.version).toBe('test');
    expect(body.server_address).toBe(srv.deps.serverAddress());
    expect(body.surfaces.relay.submit).toContain('POST /mj/submit/imagine');
    expect(body.surfaces.relay.submit).toHaveLength(12);
    expect(body.surfaces.relay.fetch).toBe('GET /mj/task/:id/fetch');
    expect(body.surfaces.trpc.endpoint).toBe('/trpc');
    expect(body.surfaces.trpc.procedures).toEqual(
      expect.arrayContaining(['status', 'mj.self', 'admin.user.create', 'token.create']),
    );
    expect(body.surfaces).toMatchObject({
      image: 'GET /mj/image/:id',
      health: 'GET /healthz',
      status: 'GET /api/status',
    });

    for (const route of [...body.surfaces.rest, body.surfaces.health]) {
      const [method, path] = route.split(' ');
      const r = await fetch(`${srv.url}${path}`, { method, headers: ROOT_HEADERS });
      expect(`${route} ${r.status}`).toBe(`${route} 200`);
    }
    const status = await fetch(`${srv.url}/trpc/status`);
    expect(status.status).toBe(200);
  });

  test('a POST to / and unknown paths are 404', async () => {
    expect((await fetch(`${srv.url}/nope`)).status).toBe(404);
    expect((await fetch(`${srv.url}/`, { method: 'POST' })).status).toBe(404);
  });
});
