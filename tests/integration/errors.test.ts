import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../src/lib/logger.ts';
import { ROOT_HEADERS, ROOT_TOKEN, startTestServer, type TestServer } from '../helpers/server.ts';

let srv: TestServer;
const logLines: string[] = [];

beforeAll(async () => {
  srv = await startTestServer({ logger: createLogger('debug', {}, (l) => logLines.push(l)) });
});
afterAll(() => srv.stop());

describe('errors (SPEC §10)', () => {
  test('unknown paths get a JSON 404 and a request id', async () => {
    const res = await fetch(`${srv.url}/api/nope`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ success: false, message: 'not found' });
    expect(res.headers.get('x-request-id')).toMatch(/^[A-Za-z0-9]{12}$/);
  });

  test('JSON that does not parse is a 400', async () => {
    const res = await fetch(`${srv.url}/trpc/token.create`, {
      method: 'POST',
      headers: { ...ROOT_HEADERS, 'content-type': 'application/json' },
      body: '{"name":',
    });
    expect(res.status).toBe(400);
  });

  test('a body over 10 MiB is refused with 413', async () => {
    const res = await fetch(`${srv.url}/trpc/token.create`, {
      method: 'POST',
      headers: { ...ROOT_HEADERS, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'x'.repeat(10 * 1024 * 1024 + 10) }),
    });
    expect(res.status).toBe(413);
    // In the shape tRPC clients read; REST answers { success: false, message } the same way.
    expect(await res.json()).toEqual({
      error: { message: 'request body too large', code: -32413, data: { code: 'PAYLOAD_TOO_LARGE', httpStatus: 413 } },
    });
    const rest = await fetch(`${srv.url}/api/mj/self`, {
      method: 'POST',
      headers: { ...ROOT_HEADERS, 'content-type': 'application/json' },
      body: 'x'.repeat(10 * 1024 * 1024 + 1),
    });
    expect(rest.status).toBe(413);
    expect(await rest.json()).toEqual({ success: false, message: 'request body too large' });
    const relay = await fetch(`${srv.url}/mj/submit/imagine`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: 'x'.repeat(10 * 1024 * 1024 + 1),
    });
    expect(relay.status).toBe(413);
    expect(await relay.json()).toEqual({
      code: 4,
      description: 'request body too large',
      result: null,
      properties: {},
    });
    expect(relay.headers.get('access-control-allow-origin')).toBe('*');
  });

  test('an internal error is a 500 with a request id, no stack, and a log line with the same id', async () => {
    srv.db.$client.run('ALTER TABLE task_counters RENAME TO task_counters_gone');
    try {
      for (const path of ['/api/mj/self', '/trpc/mj.self']) {
        const res = await fetch(`${srv.url}${path}`, { headers: ROOT_HEADERS });
        expect(res.status).toBe(500);
        const text = await res.text();
        const id = res.headers.get('x-request-id')!;
        expect(text).toContain(`internal error (request id ${id})`);
        expect(text).not.toContain('at ');
        expect(text).not.toContain('task_counters');
        expect(logLines.some((l) => l.includes(id) && JSON.parse(l).level === 'error')).toBe(true);
      }
    } finally {
      srv.db.$client.run('ALTER TABLE task_counters_gone RENAME TO task_counters');
    }
  });

  test('no secret reaches the logs', () => {
    expect(logLines.join('\n')).not.toContain(ROOT_TOKEN);
  });
});

describe('process lifecycle', () => {
  test('start-up prints the generated root token once; SIGTERM shuts down cleanly with exit 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mjgw-proc-'));
    try {
      const run = async (): Promise<{ out: string; code: number }> => {
        const proc = Bun.spawn(['bun', 'src/index.ts'], {
          env: {
            PATH: process.env.PATH ?? '',
            PORT: '0',
            HOST: '127.0.0.1',
            DATABASE_PATH: join(dir, 'sub', 'gw.db'),
            UPDATE_TASK: 'true',
            POLL_INTERVAL_MS: '50',
          },
          stdout: 'pipe',
          stderr: 'pipe',
        });
        let out = '';
        const reader = proc.stdout.getReader();
        const decoder = new TextDecoder();
        const readMore = async () => {
          const { value, done } = await reader.read();
          if (value) out += decoder.decode(value);
          return !done;
        };
        while (!out.includes('listening on') && (await readMore()));
        const port = /listening on http:\/\/[^:]+:(\d+)/.exec(out)?.[1];
        const health = await fetch(`http://127.0.0.1:${port}/healthz`);
        expect(await health.text()).toBe('ok');
        proc.kill('SIGTERM');
        while (await readMore());
        const code = await proc.exited;
        return { out, code };
      };
      const first = await run();
      expect(first.code).toBe(0);
      const token = /access token \(shown once\): ([A-Za-z0-9]+)/.exec(first.out)?.[1];
      expect(token?.length).toBeGreaterThanOrEqual(32);
      const second = await run();
      expect(second.code).toBe(0);
      expect(second.out).not.toContain(token!);
      expect(second.out).toContain('"msg":"shutting down"');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
