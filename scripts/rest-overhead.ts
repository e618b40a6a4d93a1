/**
 * In-process micro-benchmark of the management listing path (issue 8): where a request's time
 * goes between the raw floor (auth + page + counter + JSON) and the REST alias through Elysia,
 * the tRPC caller and its output validation. Prints µs per call; run `bun scripts/rest-overhead.ts`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createApp } from '../src/app.ts';
import { authenticateManagement } from '../src/auth/management.ts';
import { loadConfig } from '../src/config.ts';
import { openDatabase } from '../src/db/client.ts';
import type { AppDeps } from '../src/deps.ts';
import { OptionsStore } from '../src/domain/options.ts';
import { listTasks, selfFilter, taskItem } from '../src/domain/tasks.ts';
import { bootstrapRoot } from '../src/domain/users.ts';
import { systemClock } from '../src/lib/clock.ts';
import { silentLogger } from '../src/lib/logger.ts';
import { createCallerFactory, createContextInner } from '../src/trpc/init.ts';
import { appRouter } from '../src/trpc/routers/index.ts';
import { taskItemSchema } from '../src/trpc/routers/mj.ts';
import { selfTaskQuerySchema } from '../src/domain/task-query.ts';
import { z } from 'zod';

const TOKEN = 'bench-root-access-token-0123456789';
const dir = mkdtempSync(join(import.meta.dir, '../.tmp/rest-overhead-'));
const db = openDatabase(join(dir, 'b.db'));
const config = loadConfig({ PORT: '0', DATABASE_PATH: join(dir, 'b.db'), UPDATE_TASK: 'false' });
const deps: AppDeps = {
  db, config, clock: systemClock, options: OptionsStore.bootstrap(db, config.optionOverrides), logger: silentLogger,
  serverAddress: () => 'http://localhost:3000', fetch: globalThis.fetch, startedAt: Date.now(), version: 'bench',
};
bootstrapRoot(db, systemClock, TOKEN);
const insert = db.$client.prepare("INSERT INTO tasks (user_id, mj_id, submit_time, prompt, image_url, status, progress) VALUES (1, ?1, ?2, 'a cat', 'https://x/1.png', 'SUCCESS', '100%')");
db.$client.transaction(() => { for (let i = 0; i < 1000; i++) insert.run(String(1e15 + i), 1_712_000_000_000 + i); })();

const headers = { authorization: `Bearer ${TOKEN}`, 'new-api-user': '1' };
const app = createApp(deps);
const createCaller = createCallerFactory(appRouter);
const creds = { authorization: headers.authorization, newApiUser: headers['new-api-user'] };

async function bench(name: string, fn: () => unknown, n = 5000): Promise<number> {
  for (let i = 0; i < 500; i++) await fn();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await fn();
  const us = ((performance.now() - t0) / n) * 1000;
  console.log(`${name.padEnd(46)} ${us.toFixed(1)} µs`);
  return us;
}

const floor = await bench('floor: auth + listTasks + items + JSON', () => {
  const user = authenticateManagement(db, creds, 1);
  const page = listTasks(db, selfFilter(user.id, {}), {});
  const policy = { forward: deps.options.get('mj_forward_url_enabled'), serverAddress: deps.serverAddress() };
  return JSON.stringify({ success: true, message: '', data: { ...page, items: page.items.map((r) => taskItem(r, policy)) } });
});
const sample = (() => {
  const page = listTasks(db, selfFilter(1, {}), {});
  return { ...page, items: page.items.map((r) => taskItem(r, { forward: false, serverAddress: '' })) };
})();
const outputSchema = z.object({ items: z.array(taskItemSchema), total: z.number(), page: z.number(), page_size: z.number() });
await bench('zod output validation of one page', () => outputSchema.parse(sample));
await bench('zod input parse (empty query)', () => selfTaskQuerySchema.optional().parse({}));
await bench('auth only', () => authenticateManagement(db, creds, 1));
await bench('listTasks only (page 1, user)', () => listTasks(db, selfFilter(1, {}), {}));
const caller = await bench('tRPC caller mj.self + JSON', async () =>
  JSON.stringify(await createCaller(createContextInner(deps, creds, 'r')).mj.self({})));
const rest = await bench('REST /api/mj/self via app.handle + body', async () =>
  (await app.handle(new Request('http://localhost/api/mj/self', { headers }))).text());
console.log(`caller / floor ${(caller / floor).toFixed(2)}×, REST / floor ${(rest / floor).toFixed(2)}×`);
rmSync(dir, { recursive: true, force: true });
