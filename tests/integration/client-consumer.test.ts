import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { createTestUser, insertTask, type TestUser } from '../helpers/factories.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

/**
 * `mj-gateway-client` as an outside project sees it (SPEC §10): `bun run build:client` writes the
 * package's tarball; a temp project outside the repository installs it with `bun add <tgz>` (its
 * dependencies come from the registry), type-checks with its own ordinary strict tsconfig (no bun
 * types, no `.ts` imports) and runs against a real server.
 */
const REPO = join(import.meta.dir, '../..');
const PKG = join(REPO, 'packages/client');
const TSC = join(REPO, 'node_modules/.bin/tsc');
const VERSION = (JSON.parse(readFileSync(join(PKG, 'package.json'), 'utf8')) as { version: string }).version;
const TARBALL = join(PKG, `mj-gateway-client-${VERSION}.tgz`);

const CONSUMER = `import { createGatewayClient, type GatewayInputs, type GatewayOutputs } from 'mj-gateway-client';

type Item = GatewayOutputs['mj']['self']['items'][number];

export async function firstTask(url: string, token: string, userId: number): Promise<{ total: number; pageSize: number; item: Item | undefined }> {
  const client = createGatewayClient({ url, token, userId });
  const page = await client.mj.self.query({ p: 1, page_size: 2 });
  const item = page.items[0];
  const mjId: string | undefined = item?.mj_id;
  const submitTime: number | undefined = item?.submit_time;
  // Parsed, not JSON text: an array of typed buttons and an object.
  const customId: string | undefined = item?.buttons[0]?.customId;
  const style: number | undefined = item?.buttons[0]?.style;
  const properties: Record<string, unknown> | undefined = item?.properties;
  void mjId; void submitTime; void customId; void style; void properties;
  return { total: page.total, pageSize: page.page_size, item };
}

/** The first live update of the caller's tasks (mj.onTaskUpdate over SSE), then unsubscribe. */
export function firstUpdate(url: string, token: string, userId: number, onReady: () => void): Promise<{ eventId: string; mjId: string; progress: string; labels: string[] }> {
  const client = createGatewayClient({ url, token, userId });
  return new Promise((resolve, reject) => {
    const sub = client.mj.onTaskUpdate.subscribe({}, {
      onStarted: onReady,
      onData: ({ id, data }) => {
        // A reconnect whose missed changes are too many to replay is told to reload instead.
        if ('reload' in data) return;
        sub.unsubscribe();
        resolve({ eventId: id, mjId: data.mj_id, progress: data.progress, labels: data.buttons.map((b) => b.label) });
      },
      onError: reject,
    });
  });
}

/** Never called: only here for the type checker. */
export function typesAreReal(url: string) {
  const client = createGatewayClient({ url, token: 't', userId: 1 });
  const query: GatewayInputs['mj']['self'] = { p: 3, page_size: 10, mj_id: 'x', start_timestamp: 1712000000 };
  void client.mj.self.query(query);
  // @ts-expect-error list inputs are numbers, not numeric strings
  void client.mj.self.query({ page_size: '10' });
  // @ts-expect-error channel_id is a number too
  void client.mj.all.query({ channel_id: '1' });
  // @ts-expect-error buttons is an array, not JSON text
  void client.mj.all.query().then((page) => { const text: string | undefined = page.items[0]?.buttons; return text; });
  // @ts-expect-error properties is an object, not JSON text
  void client.mj.get.query({ mj_id: 'x' }).then((item) => { const text: string = item.properties; return text; });
  // @ts-expect-error a listing item has no such field
  void client.mj.all.query().then((page) => page.items[0]?.no_such_field);
  // @ts-expect-error no such procedure
  void client.mj.nope;
}
`;

const TSCONFIG = {
  compilerOptions: {
    target: 'ES2022',
    module: 'ESNext',
    moduleResolution: 'bundler',
    lib: ['ES2022', 'DOM'],
    types: [],
    // @trpc/server's own declarations need @types/node and the esnext.disposable lib unless libraries
    // are skipped, as tRPC's setup guide does; unresolved names in ours would still make the
    // expected-error lines of CONSUMER fail.
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    noUncheckedIndexedAccess: true,
  },
  include: ['src'],
};

let srv: TestServer;
let alice: TestUser;
let dir: string;

function run(cmd: string[], cwd: string): string {
  const p = Bun.spawnSync(cmd, { cwd, stdout: 'pipe', stderr: 'pipe' });
  const out = p.stdout.toString() + p.stderr.toString();
  if (p.exitCode !== 0) throw new Error(`${cmd.join(' ')} failed (${p.exitCode}): ${out}`);
  return out;
}

function filesUnder(root: string): string[] {
  return readdirSync(root).flatMap((name) => {
    const p = join(root, name);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

beforeAll(async () => {
  // The build runs while the server starts and the consumer project is written.
  const build = Bun.spawn(['bun', 'run', 'build:client'], { cwd: REPO, stdout: 'pipe', stderr: 'pipe' });
  // Outside the repository, so nothing resolves through the repository's node_modules.
  dir = mkdtempSync(join(tmpdir(), 'mj-client-consumer-'));
  mkdirSync(join(dir, 'src'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(TSCONFIG));
  writeFileSync(join(dir, 'src/consumer.ts'), CONSUMER);
  srv = await startTestServer();
  alice = createTestUser(srv.db);
  const buttons = JSON.stringify([
    { customId: 'MJ::JOB::upsample::1::abc', emoji: '', label: 'U1', type: 2, style: 2 },
  ]);
  for (let i = 0; i < 3; i++) {
    insertTask(srv.db, {
      userId: alice.id,
      mjId: `client-${i}`,
      submitTime: 1_712_000_000_000 + i,
      status: 'SUCCESS',
      progress: '100%',
      prompt: `cat ${i}`,
      buttons,
      properties: '{"finalPrompt":"a cat","flags":0}',
    });
  }
  if ((await build.exited) !== 0) {
    throw new Error(
      `build:client failed: ${await new Response(build.stderr).text()}${await new Response(build.stdout).text()}`,
    );
  }
  mkdirSync(join(dir, 'unpacked'));
  run(['tar', 'xzf', TARBALL, '-C', join(dir, 'unpacked')], dir);
  run(['bun', 'add', TARBALL], dir);
}, 180_000); // a cold tsc and an install on a busy machine; nothing asserts on time

afterAll(() => {
  srv?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('mj-gateway-client from outside the repository', () => {
  test('the tarball holds built JavaScript, declarations, package.json and README only', () => {
    const files = filesUnder(join(dir, 'unpacked'))
      .map((f) => relative(join(dir, 'unpacked'), f))
      .sort();
    expect(files).toContain('package/dist/index.js');
    expect(files).toContain('package/dist/index.d.ts');
    for (const f of files) expect(f).toMatch(/^package\/(package\.json|README\.md|dist\/[\w-]+\.(js|d\.ts))$/);
    for (const f of files) {
      // No server code and no data: nothing of the database, the HTTP server or the tests.
      expect(readFileSync(join(dir, 'unpacked', f), 'utf8')).not.toMatch(
        /bun:sqlite|drizzle|elysia|\.db\b|root token|from ['"][^'"]*\.ts['"]|\.\.\/src\//i,
      );
    }
    const pkg = JSON.parse(readFileSync(join(dir, 'unpacked/package/package.json'), 'utf8')) as {
      name: string;
      private?: boolean;
      type: string;
      exports: Record<string, unknown>;
      dependencies: Record<string, string>;
    };
    expect(pkg.name).toBe('mj-gateway-client');
    expect(pkg.private).toBeUndefined();
    expect(pkg.type).toBe('module');
    expect(pkg.exports['.']).toEqual({ types: './dist/index.d.ts', import: './dist/index.js' });
    expect(Object.keys(pkg.dependencies).sort()).toEqual(['@trpc/client', '@trpc/server', 'zod']);
  });

  test('the repository package no longer exports a client', () => {
    const root = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as {
      private: boolean;
      exports?: unknown;
    };
    expect(root.private).toBe(true);
    expect(root.exports).toBeUndefined();
  });

  test('type-checks with an ordinary strict tsconfig, and the types are real', () => {
    const tsc = Bun.spawnSync([TSC, '-p', join(dir, 'tsconfig.json')], { cwd: dir, stdout: 'pipe', stderr: 'pipe' });
    expect(tsc.stdout.toString() + tsc.stderr.toString()).toBe('');
    expect(tsc.exitCode).toBe(0);
  }, 60_000);

  test("runs against a real server: lists the user's tasks, buttons and properties parsed", async () => {
    const mod = (await import(join(dir, 'src/consumer.ts'))) as {
      firstTask: (
        url: string,
        token: string,
        userId: number,
      ) => Promise<{ total: number; pageSize: number; item?: Record<string, unknown> }>;
    };
    const got = await mod.firstTask(srv.url, alice.accessToken, alice.id);
    expect(got.total).toBe(3);
    expect(got.pageSize).toBe(2);
    expect(got.item?.mj_id).toBe('client-2');
    expect(got.item?.prompt).toBe('cat 2');
    expect(got.item?.status).toBe('SUCCESS');
    expect(got.item?.buttons).toEqual([
      { customId: 'MJ::JOB::upsample::1::abc', emoji: '', label: 'U1', type: 2, style: 2 },
    ]);
    expect(got.item?.properties).toEqual({ finalPrompt: 'a cat', flags: 0 });
  });

  test('subscribes to live updates (mj.onTaskUpdate over SSE) with the same credentials', async () => {
    const mod = (await import(join(dir, 'src/consumer.ts'))) as {
      firstUpdate: (
        url: string,
        token: string,
        userId: number,
        onReady: () => void,
      ) => Promise<{ eventId: string; mjId: string; progress: string; labels: string[] }>;
    };
    const row = srv.db.$client.query<{ id: number }, []>("SELECT id FROM tasks WHERE mj_id = 'client-0'").get()!;
    const update = mod.firstUpdate(srv.url, alice.accessToken, alice.id, () => {
      srv.db.$client.run("UPDATE tasks SET progress = '55%', status = 'IN_PROGRESS' WHERE id = ?", [row.id]);
      srv.deps.taskFeed.publish([row.id]);
    });
    const got = await update;
    expect(got).toMatchObject({ mjId: 'client-0', progress: '55%', labels: ['U1'] });
    expect(got.eventId.length).toBeGreaterThan(0);
  });
});
