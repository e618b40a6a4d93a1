import { afterAll, describe, expect, test } from 'bun:test';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type GatewayProcess, spawnGateway } from '../helpers/process.ts';

/**
 * SPEC §3's start-up lines with real processes: a busy port stops the start with one line and
 * exit 2 before anything is opened or created; secrets (root token, demo key) are printed on the
 * first start only.
 */

const dir = mkdtempSync(join(tmpdir(), 'mjgw-startup-'));
const TEST_TIMEOUT_MS = 60_000;
const running: GatewayProcess[] = [];
afterAll(async () => {
  for (const p of running) if (p.proc.exitCode === null) await p.stop();
  rmSync(dir, { recursive: true, force: true });
});

function start(env: Record<string, string>): GatewayProcess {
  const p = spawnGateway({ HOST: '127.0.0.1', PORT: '0', DEMO_PORT: '0', LOG_LEVEL: 'debug', ...env });
  running.push(p);
  return p;
}

const BANNER_END = /Everything else this server offers[^\n]*\n/;

/** Everything the process printed on stdout, once it has ended. */
async function allOutput(p: GatewayProcess): Promise<string> {
  await p.waitForOutput(/(?!)/, 'nothing').catch(() => {});
  return p.output();
}

describe('a start on a busy port', () => {
  test(
    'one line on stderr, exit 2, and no database, image folder or other output',
    async () => {
      const blocker = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response('someone else') });
      try {
        const folder = join(dir, 'busy');
        const p = start({ PORT: String(blocker.port), DATABASE_PATH: join(folder, 'gateway.db'), DEMO: '1' });
        expect(await p.proc.exited).toBe(2);
        expect(await new Response(p.proc.stderr).text()).toBe(
          `port ${blocker.port} is already in use (HOST 127.0.0.1)\n`,
        );
        expect(await allOutput(p)).toBe('');
        // Not opened, not migrated: the database's folder (and the image folder in it) never came to be.
        expect(existsSync(folder)).toBe(false);
      } finally {
        await blocker.stop(true);
      }
    },
    TEST_TIMEOUT_MS,
  );
});

describe('secrets are printed once', () => {
  async function run(env: Record<string, string>): Promise<string> {
    const p = start(env);
    await p.waitForOutput(env.DEMO ? BANNER_END : /listening on http/, 'the start-up output');
    const code = await p.stop();
    const out = await allOutput(p);
    if (code !== 0) throw new Error(`exit code ${code}; output:\n${out}`);
    return out;
  }
  const count = (text: string, secret: string) => text.split(secret).length - 1;

  test(
    'DEMO: the root token and the demo key on the first start only',
    async () => {
      const env = { DEMO: '1', DATABASE_PATH: join(dir, 'demo', 'gateway.db') };
      const first = await run(env);
      const rootToken = /export MJ_ROOT_TOKEN='([^']+)'/.exec(first)?.[1];
      const key = /export MJ_KEY='sk-([^']+)'/.exec(first)?.[1];
      expect(rootToken).toBeDefined();
      expect(key).toBeDefined();
      expect([count(first, rootToken!), count(first, key!)]).toEqual([1, 1]);

      const second = await run(env);
      expect(second).toContain('=== mj-gateway DEMO ===');
      expect(count(second, rootToken!)).toBe(0);
      expect(count(second, key!)).toBe(0);
      // It says where they were shown and how to get new ones.
      expect(second).toContain(
        'printed when root was created, not again; signed in, user.regenerateAccessToken replaces it',
      );
      expect(second).toContain('printed on the first DEMO start, not again; token.create');
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'first start without DEMO prints the root token; a later DEMO start prints only the new demo key',
    async () => {
      const db = join(dir, 'plain', 'gateway.db');
      const first = await run({ DATABASE_PATH: db });
      const rootToken = /access token \(shown once\): (\S+)/.exec(first)?.[1];
      expect(rootToken).toBeDefined();

      const demo = await run({ DEMO: '1', DATABASE_PATH: db });
      expect(count(demo, rootToken!)).toBe(0);
      expect(demo).toMatch(/export MJ_KEY='sk-[A-Za-z0-9]+'/);
      expect(demo).not.toContain('MJ_ROOT_TOKEN=');
    },
    TEST_TIMEOUT_MS,
  );
});
