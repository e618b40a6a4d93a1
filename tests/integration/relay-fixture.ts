import { and, eq } from 'drizzle-orm';
import { LOG_TYPE, logs, tasks, tokens, type TaskRow } from '../../src/db/schema/index.ts';
import { startSimulator, type Simulator, type SimulatorOptions } from '../../src/simulator/index.ts';
import { createTestApiKey, createTestChannel, createTestUser, getUserQuota } from '../helpers/factories.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

/** Shared set-up of the relay tests: a real gateway, real simulators, a funded user with a key. */

export const IMAGINE_PRICE = 50_000;

export interface Caller {
  userId: number;
  tokenId: number;
  key: string;
  headers: Record<string, string>;
}

export interface RelayWorld {
  srv: TestServer;
  sims: Simulator[];
  /** Channel id of each simulator, same order. */
  channelIds: number[];
  /** A new user with `quota` and an API key (unlimited unless `remainQuota` is given). */
  caller(quota?: number, remainQuota?: number): Caller;
  post(path: string, body: unknown, headers: Record<string, string>): Promise<{ status: number; json: any; res: Response }>;
  get(path: string, headers: Record<string, string>): Promise<{ status: number; json: any; res: Response }>;
  task(mjIdOrId: string | number): TaskRow | undefined;
  tasksOf(userId: number): TaskRow[];
  quota(userId: number): number;
  remainQuota(tokenId: number): number;
  logCount(userId: number, type: number): number;
  /** What the poller would do once the upstream reports success. */
  markSuccess(mjId: string): void;
  stop(): Promise<void>;
}

export const SIM_SECRETS = ['sim-secret-alpha', 'sim-secret-bravo'];

export async function relayWorld(opts: { env?: Record<string, string>; sims?: number; sim?: SimulatorOptions } = {}): Promise<RelayWorld> {
  const srv = await startTestServer({ env: opts.env });
  const sims: Simulator[] = [];
  const channelIds: number[] = [];
  for (let i = 0; i < (opts.sims ?? 1); i++) {
    const secret = SIM_SECRETS[i] ?? `sim-secret-${i}`;
    const sim = await startSimulator({ secret, stepMs: 0, ...opts.sim });
    sims.push(sim);
    channelIds.push(createTestChannel(srv.db, sim.url, { key: secret, name: `sim${i}` }));
  }
  const call = async (method: string, path: string, headers: Record<string, string>, body?: unknown) => {
    const res = await fetch(`${srv.url}${path}`, {
      method,
      headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = text;
    }
    return { status: res.status, json: json as any, res };
  };
  return {
    srv, sims, channelIds,
    caller(quota = 10_000_000, remainQuota?: number) {
      const user = createTestUser(srv.db, { quota });
      const key = remainQuota === undefined
        ? createTestApiKey(srv.db, user.id, { unlimited: true })
        : createTestApiKey(srv.db, user.id, { unlimited: false, remainQuota });
      return { userId: user.id, tokenId: key.id, key: key.key, headers: key.headers };
    },
    post: (path, body, headers) => call('POST', path, headers, body),
    get: (path, headers) => call('GET', path, headers),
    task(ref) {
      const where = typeof ref === 'number' ? eq(tasks.id, ref) : eq(tasks.mjId, ref);
      return srv.db.select().from(tasks).where(where).get();
    },
    tasksOf: (userId) => srv.db.select().from(tasks).where(eq(tasks.userId, userId)).all(),
    quota: (userId) => getUserQuota(srv.db, userId),
    remainQuota: (tokenId) => srv.db.select({ q: tokens.remainQuota }).from(tokens).where(eq(tokens.id, tokenId)).get()?.q ?? -1,
    logCount: (userId, type) => srv.db.select().from(logs).where(and(eq(logs.userId, userId), eq(logs.type, type))).all().length,
    markSuccess(mjId) {
      srv.db.update(tasks).set({ status: 'SUCCESS', progress: '100%' }).where(eq(tasks.mjId, mjId)).run();
    },
    async stop() {
      for (const sim of sims) await sim.stop();
      await srv.stop();
    },
  };
}

export { LOG_TYPE };
