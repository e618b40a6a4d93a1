import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createTestUser, insertTask, type TestUser } from '../helpers/factories.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

/**
 * `mj-gateway/client` as an outside project sees it: built by `bun run build:client`, linked into
 * a temp project with its own ordinary tsconfig (no bun types, no `.ts` imports), type-checked
 * with tsc and run against a real server.
 */
const REPO = join(import.meta.dir, '../..');
const TSC = join(REPO, 'node_modules/.bin/tsc');

const CONSUMER = `import { createGatewayClient, type GatewayInputs, type GatewayOutputs } from 'mj-gateway/client';

type Item = GatewayOutputs['mj']['self']['items'][number];

export async function firstTask(url: string, token: string, userId: number): Promise<{ total: number; pageSize: number; item: Item | undefined }> {
  const client = createGatewayClient({ url, token, userId });
  const page = await client.mj.self.query({ p: 1, page_size: '2' });
  const item = page.items[0];
  const mjId: string | undefined = item?.mj_id;
  const submitTime: number | undefined = item?.submit_time;
  void mjId;
  void submitTime;
  return { total: page.total, pageSize: page.page_size, item };
}

/** The first live update of the caller's tasks (mj.onTaskUpdate over SSE), then unsubscribe. */
export function firstUpdate(url: string, token: string, userId: number, onReady: () => void): Promise<{ eventId: string; mjId: string; progress: string }> {
  const client = createGatewayClient({ url, token, userId });
  return new Promise((resolve, reject) => {
    const sub = client.mj.onTaskUpdate.subscribe({}, {
      onStarted: onReady,
      onData: ({ id, data }) => {
        // A reconnect whose missed changes are too many to replay is told to reload instead.
        if ('reload' in data) return;
        sub.unsubscribe();
        resolve({ eventId: id, mjId: data.mj_id, progress: data.progress });
      },
      onError: reject,
    });
  });
}

/** Never called: only here for the type checker. */
export function typesAreReal(url: string) {
  const client = createGatewayClient({ url, token: 't', userId: 1 });
  const query: GatewayInputs['mj']['self'] = { p: '3', page_size: 10, mj_id: 'x' };
  void client.mj.self.query(query);
  // @ts-expect-error p is a number or a numeric string, not an object
  void client.mj.self.query({ p: {} });
  // @ts-expect-error a listing item has no such field
  void client.mj.all.query().then((page) => page.items[0]?.no_such_field);
  // @ts-expect-error no such procedure
  void client.mj.nope;
}
`;

const TSCONFIG = {
  compilerOptions: {
    target: 'ES2022', module: 'ESNext', moduleResolution: 'bundler', lib: ['ES2022', 'DOM'], types: [],
    // @trpc/server's own declarations need @types/node and the esnext.disposable lib unless libraries
    // are skipped, as tRPC's setup guide does; unresolved names in ours would still make the
    // expected-error lines of CONSUMER fail.
    strict: true, noEmit: true, skipLibCheck: true, noUncheckedIndexedAccess: true,
  },
  include: ['src'],
};

let srv: TestServer;
let alice: TestUser;
let dir: string;

beforeAll(async () => {
  // The build runs while the server starts and the consumer project is written.
  const build = Bun.spawn(['bun', 'run', 'build:client'], { cwd: REPO, stdout: 'pipe', stderr: 'pipe' });
  mkdirSync(join(REPO, '.tmp'), { recursive: true });
  dir = mkdtempSync(join(REPO, '.tmp/consumer-'));
  mkdirSync(join(dir, 'src'));
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(REPO, join(dir, 'node_modules/mj-gateway'), 'dir');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module', dependencies: { 'mj-gateway': `file:${REPO}` } }));
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(TSCONFIG));
  writeFileSync(join(dir, 'src/consumer.ts'), CONSUMER);
  srv = await startTestServer();
  alice = createTestUser(srv.db);
  for (let i = 0; i < 3; i++) {
    insertTask(srv.db, { userId: alice.id, mjId: `client-${i}`, submitTime: 1_712_000_000_000 + i, status: 'SUCCESS', progress: '100%', prompt: `cat ${i}` });
  }
  if ((await build.exited) !== 0) {
    throw new Error(`build:client failed: ${await new Response(build.stderr).text()}${await new Response(build.stdout).text()}`);
  }
}, 120_000); // a cold tsc on a busy machine; nothing asserts on time

afterAll(() => {
  srv?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('mj-gateway/client from outside the repository', () => {
  test('the package exports the built entry and its declarations', () => {
    const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { name: string; exports: Record<string, { types: string; import: string }> };
    expect(pkg.name).toBe('mj-gateway');
    expect(pkg.exports['./client']).toEqual({ types: './dist/client/index.d.ts', import: './dist/client/index.js' });
    const declarations = readFileSync(join(REPO, 'dist/client/index.d.ts'), 'utf8') + readFileSync(join(REPO, 'dist/client/router-type.d.ts'), 'utf8');
    expect(declarations).toContain('createGatewayClient');
    expect(declarations).not.toMatch(/bun:|\.ts['"]|drizzle|\.\.\//);
  });

  test('type-checks with an ordinary strict tsconfig, and the types are real', () => {
    const tsc = Bun.spawnSync([TSC, '-p', join(dir, 'tsconfig.json')], { cwd: dir, stdout: 'pipe', stderr: 'pipe' });
    expect(tsc.stdout.toString() + tsc.stderr.toString()).toBe('');
    expect(tsc.exitCode).toBe(0);
  }, 60_000);

  test('runs against a real server: lists the user\'s tasks and reads an item', async () => {
    const mod = (await import(join(dir, 'src/consumer.ts'))) as {
      firstTask: (url: string, token: string, userId: number) => Promise<{ total: number; pageSize: number; item?: Record<string, unknown> }>;
    };
    const got = await mod.firstTask(srv.url, alice.accessToken, alice.id);
    expect(got.total).toBe(3);
    expect(got.pageSize).toBe(2);
    expect(got.item?.mj_id).toBe('client-2');
    expect(got.item?.prompt).toBe('cat 2');
    expect(got.item?.status).toBe('SUCCESS');
  });

  test('subscribes to live updates (mj.onTaskUpdate over SSE) with the same credentials', async () => {
    const mod = (await import(join(dir, 'src/consumer.ts'))) as {
      firstUpdate: (url: string, token: string, userId: number, onReady: () => void) => Promise<{ eventId: string; mjId: string; progress: string }>;
    };
    const row = srv.db.$client.query<{ id: number }, []>("SELECT id FROM tasks WHERE mj_id = 'client-0'").get()!;
    const update = mod.firstUpdate(srv.url, alice.accessToken, alice.id, () => {
      srv.db.$client.run("UPDATE tasks SET progress = '55%', status = 'IN_PROGRESS' WHERE id = ?", [row.id]);
      srv.deps.taskFeed.publish([row.id]);
    });
    const got = await update;
    expect(got).toMatchObject({ mjId: 'client-0', progress: '55%' });
    expect(got.eventId.length).toBeGreaterThan(0);
  });
});
