import { afterAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type GatewayProcess, spawnGateway } from '../helpers/process.ts';

/**
 * The real server process, as `bun run start` / scripts/start.sh run it: a start on a busy port,
 * and DEMO restarts that keep the images of earlier tasks viewable.
 */

const dir = mkdtempSync(join(tmpdir(), 'mjgw-start-'));
/** Real process starts: a generous cap, so a loaded machine slows these tests down but does not fail them. */
const PROCESS_TEST_TIMEOUT_MS = 60_000;
const running: GatewayProcess[] = [];
afterAll(async () => {
  for (const p of running) if (p.proc.exitCode === null) await p.stop();
  rmSync(dir, { recursive: true, force: true });
});

function start(env: Record<string, string>): GatewayProcess {
  const p = spawnGateway({ HOST: '127.0.0.1', ...env });
  running.push(p);
  return p;
}

async function listeningPort(p: GatewayProcess): Promise<number> {
  return Number((await p.waitForOutput(/listening on http:\/\/127\.0\.0\.1:(\d+)/, 'the listening line'))[1]);
}

describe('a start on a port already in use', () => {
  test(
    'stops with one line and exit code 2; the first server keeps serving alone',
    async () => {
      const first = start({ PORT: '0', DATABASE_PATH: join(dir, 'first.db'), UPDATE_TASK: 'false' });
      const port = await listeningPort(first);

      const second = start({ PORT: String(port), DATABASE_PATH: join(dir, 'second.db') });
      expect(await second.proc.exited).toBe(2);
      expect(await new Response(second.proc.stderr).text()).toBe(`port ${port} is already in use (HOST 127.0.0.1)\n`);
      // It stopped before bootstrapping anything, so it printed no root token either.
      expect(second.output()).toBe('');

      for (let i = 0; i < 5; i++) {
        const res = await fetch(`http://127.0.0.1:${port}/healthz`);
        expect(res.status).toBe(200);
      }
      expect(first.proc.exitCode).toBeNull();
      expect(await first.stop()).toBe(0);
    },
    PROCESS_TEST_TIMEOUT_MS,
  );
});

describe('DEMO restarts', () => {
  const db = join(dir, 'demo.db');

  let key = '';
  async function startDemo(demoPort: string) {
    const p = start({ DEMO: '1', PORT: '0', DEMO_PORT: demoPort, DATABASE_PATH: db });
    const port = await listeningPort(p);
    const sim = (await p.waitForOutput(/Upstream simulator: (http:\/\/127\.0\.0\.1:\d+)/, 'the simulator URL'))[1]!;
    // The key is printed on the first start only; later starts reuse it.
    if (!key) key = (await p.waitForOutput(/export MJ_KEY='(sk-[A-Za-z0-9]+)'/, 'the demo key'))[1]!;
    else await p.waitForOutput(/Demo API key .*printed on the first DEMO start/, 'where the key was shown');
    return { p, base: `http://127.0.0.1:${port}`, key, sim };
  }

  async function expectPng(base: string, mjId: string) {
    const res = await fetch(`${base}/mj/image/${mjId}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    expect([...new Uint8Array(await res.arrayBuffer()).subarray(0, 4)]).toEqual([0x89, 0x50, 0x4e, 0x47]);
  }

  test(
    'the image of a task made before a restart still serves, on the same port or a new one',
    async () => {
      const one = await startDemo('0');
      // `--sim-existed`: the simulator answers with a finished task at once, so no waiting on its clock.
      const sub = await fetch(`${one.base}/mj/submit/imagine`, {
        method: 'POST',
        headers: { authorization: `Bearer ${one.key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ prompt: 'a lighthouse before the restart --sim-existed' }),
      });
      const mjId = ((await sub.json()) as { result: string }).result;
      const task = (await (
        await fetch(`${one.base}/mj/task/${mjId}/fetch`, { headers: { authorization: `Bearer ${one.key}` } })
      ).json()) as { status: string; imageUrl: string };
      expect(task.status).toBe('SUCCESS');
      expect(task.imageUrl).toBe(`${one.base.replace('127.0.0.1', 'localhost')}/mj/image/${mjId}`);
      await expectPng(one.base, mjId);
      expect(await one.p.stop()).toBe(0);

      // Same DEMO_PORT again: the simulator comes back where the stored links point.
      const simPort = new URL(one.sim).port;
      const two = await startDemo(simPort);
      expect(two.sim).toBe(one.sim);
      await expectPng(two.base, mjId);
      expect(await two.p.stop()).toBe(0);

      // DEMO_PORT busy: the simulator moves to a free port and the stored links move with it.
      const blocker = Bun.serve({
        port: Number(simPort),
        hostname: '127.0.0.1',
        fetch: () => new Response('not the simulator', { status: 418 }),
      });
      try {
        const three = await startDemo(simPort);
        expect(three.sim).not.toBe(one.sim);
        expect(three.p.output()).toContain(`port ${simPort} was in use`);
        await expectPng(three.base, mjId);
        expect(await three.p.stop()).toBe(0);
      } finally {
        await blocker.stop(true);
      }
    },
    PROCESS_TEST_TIMEOUT_MS,
  );
});
