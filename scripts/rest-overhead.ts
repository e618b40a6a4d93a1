/**
 * In-process micro-benchmark of the management listing path (issue 8): where a request's time
 * goes between the raw floor (auth + page + counter + JSON) and the REST alias through Elysia,
 * the tRPC caller and its output validation. Prints µs per call; run `bun scripts/rest-overhead.ts`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { createApp } from '../src/app.ts';
import { authenticateManagement } from '../src/auth/management.ts';
import { sqliteInThreadListing } from '../src/backend.ts';
import { loadConfig } from '../src/config.ts';
import { openDatabase } from '../src/db/client.ts';
import { listTasks } from '../src/db/sqlite/listing.ts';
import { createSqliteStore } from '../src/db/sqlite/store.ts';
import { createSqliteTaskStore } from '../src/db/sqlite/task-store.ts';
import type { AppDeps } from '../src/deps.ts';
import { OptionsStore } from '../src/domain/options.ts';
import { noTaskFeed } from '../src/domain/task-feed-none.ts';
import { selfTaskQuerySchema } from '../src/domain/task-query.ts';
import { taskItemSchema } from '../src/domain/task-views.ts';
import { selfFilter, taskItem } from '../src/domain/tasks.ts';
import { bootstrapRoot } from '../src/domain/users.ts';
import { systemClock } from '../src/lib/clock.ts';
import { silentLogger } from '../src/lib/logger.ts';
import { createMetrics } from '../src/lib/metrics.ts';
import { createCallerFactory, createContextInner } from '../src/trpc/init.ts';
import { appRouter } from '../src/trpc/routers/index.ts';

const TOKEN = 'bench-root-access-token-0123456789';
const dir = mkdtempSync(join(import.meta.dir, '../.tmp/rest-overhead-'));
const db = openDatabase(join(dir, 'b.db'));
const store = createSqliteStore(db);
const config = loadConfig({ PORT: '0', DATABASE_PATH: join(dir, 'b.db'), UPDATE_TASK: 'false' });
const deps: AppDeps = {
  store,
  config,
  clock: systemClock,
  options: await OptionsStore.bootstrap(store.options, config.optionOverrides),
  logger: silentLogger,
  serverAddress: () => 'http://localhost:3000',
  fetch: globalThis.fetch,
  startedAt: Date.now(),
  version: 'bench',
  database: 'sqlite',
  metrics: createMetrics(),
  pollerRole: () => 'off',
  taskFeed: noTaskFeed,
  listing: sqliteInThreadListing(db),
  taskStore: createSqliteTaskStore(db, sqliteInThreadListing(db)),
};
await bootstrapRoot(store, systemClock, TOKEN);
const insert = db.$client.prepare(
  "INSERT INTO tasks (user_id, mj_id, submit_time, prompt, image_url, status, progress) VALUES (1, ?1, ?2, 'a cat', 'https://x/1.png', 'SUCCESS', '100%')",
);
db.$client.transaction(() => {
  for (let i = 0; i < 1000; i++) insert.run(String(1e15 + i), 1_712_000_000_000 + i);
})();

const headers = { authorization: `Bearer ${TOKEN}`, 'new-api-user': '1' };
const app = createApp(deps);
const createCaller = createCallerFactory(appRouter);
const creds = { authorization: headers.authorization, newApiUser: headers['new-api-user'] };

const benches: Array<[string, () => unknown]> = [];
const bench = (name: string, fn: () => unknown) => benches.push([name, fn]);

bench('floor: auth + listTasks + items + JSON', async () => {
  const user = await authenticateManagement(store, creds, 1);
  const page = listTasks(db, selfFilter(user.id, {}), {});
  const policy = { forward: deps.options.get('mj_forward_url_enabled'), serverAddress: deps.serverAddress() };
  return JSON.stringify({
    success: true,
    message: '',
    data: { ...page, items: page.items.map((r) => taskItem(r, policy)) },
  });
});
const sample = (() => {
  const page = listTasks(db, selfFilter(1, {}), {});
  return { ...page, items: page.items.map((r) => taskItem(r, { forward: false, serverAddress: '' })) };
})();
const outputSchema = z.object({
  items: z.array(taskItemSchema),
  total: z.number(),
  page: z.number(),
  page_size: z.number(),
});
bench('zod output validation of one page', () => outputSchema.parse(sample));
bench('zod input parse (empty query)', () => selfTaskQuerySchema.optional().parse({}));
bench('auth only', () => authenticateManagement(store, creds, 1));
bench('listTasks only (page 1, user)', () => listTasks(db, selfFilter(1, {}), {}));
bench('tRPC caller mj.self + JSON', async () =>
  JSON.stringify(await createCaller(createContextInner(deps, creds, 'r')).mj.self({})),
);
bench('REST /api/mj/self via app.handle + body', async () =>
  (await app.handle(new Request('http://localhost/api/mj/self', { headers }))).text(),
);

// Rounds interleave every measure, and each one's median is printed with its ratio to the floor
// of the same round, so a shared box's changing load mostly cancels out.
const ROUNDS = 11;
const CALLS = 300;
const perRound: number[][] = benches.map(() => []);
for (const [, fn] of benches) for (let i = 0; i < 300; i++) await fn();
for (let r = 0; r < ROUNDS; r++) {
  for (let b = 0; b < benches.length; b++) {
    const fn = benches[b]![1];
    const t0 = performance.now();
    for (let i = 0; i < CALLS; i++) await fn();
    perRound[b]!.push(((performance.now() - t0) / CALLS) * 1000);
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
benches.forEach(([name], b) => {
  const ratio = median(perRound[b]!.map((us, r) => us / perRound[0]![r]!));
  console.log(`${name.padEnd(42)} ${median(perRound[b]!).toFixed(1).padStart(7)} µs  ${ratio.toFixed(2)}× floor`);
});
rmSync(dir, { recursive: true, force: true });
