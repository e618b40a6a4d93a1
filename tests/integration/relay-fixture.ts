import { and, eq, type SQL } from 'drizzle-orm';
import { LOG_TYPE } from '../../src/contract/constants.ts';
import type { ChannelRow, TaskRow } from '../../src/contract/rows.ts';
import { pgSchema } from '../../src/db/pg/client.ts';
import { logs, tasks } from '../../src/db/schema/index.ts';
import { type Simulator, type SimulatorOptions, startSimulator } from '../../src/simulator/index.ts';
import { addApiKey, addChannel, addUser, deleteRow, quotaOf, rowById, updateRow } from '../helpers/rows.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

/**
 * Shared set-up of the relay tests: a real gateway, real simulators, a funded user with a key.
 * Every read and write of the database here works on SQLite and PostgreSQL alike.
 */

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
  caller(quota?: number, remainQuota?: number): Promise<Caller>;
  post(
    path: string,
    body: unknown,
    headers: Record<string, string>,
  ): Promise<{ status: number; json: any; res: Response }>;
  get(path: string, headers: Record<string, string>): Promise<{ status: number; json: any; res: Response }>;
  task(mjIdOrId: string | number): Promise<TaskRow | undefined>;
  tasksOf(userId: number): Promise<TaskRow[]>;
  quota(userId: number): Promise<number>;
  remainQuota(tokenId: number): Promise<number>;
  logCount(userId: number, type: number): Promise<number>;
  /** What the poller would do once the upstream reports success. */
  markSuccess(mjId: string): Promise<void>;
  channel(id: number): Promise<ChannelRow | undefined>;
  /** Sets columns of a channel (as an admin's edit would). */
  setChannel(id: number, values: Partial<ChannelRow>): Promise<void>;
  addChannel(baseUrl: string, opts?: Parameters<typeof addChannel>[2]): Promise<number>;
  deleteChannel(id: number): Promise<void>;
  stop(): Promise<void>;
}

export const SIM_SECRETS = ['sim-secret-alpha', 'sim-secret-bravo'];

export async function relayWorld(
  opts: { env?: Record<string, string>; sims?: number; sim?: SimulatorOptions } = {},
): Promise<RelayWorld> {
  const srv = await startTestServer({ env: opts.env });
  const sims: Simulator[] = [];
  const channelIds: number[] = [];
  for (let i = 0; i < (opts.sims ?? 1); i++) {
    const secret = SIM_SECRETS[i] ?? `sim-secret-${i}`;
    const sim = await startSimulator({ secret, stepMs: 0, ...opts.sim });
    sims.push(sim);
    channelIds.push(await addChannel(srv.handle, sim.url, { key: secret, name: `sim${i}` }));
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
  /** Task rows whose column equals `value`, in id order. */
  const tasksWhere = async (column: 'id' | 'mjId' | 'userId', value: string | number): Promise<TaskRow[]> => {
    const h = srv.handle;
    if (h.kind === 'sqlite')
      return h.db
        .select()
        .from(tasks)
        .where(eq(tasks[column], value as never) as SQL)
        .orderBy(tasks.id)
        .all();
    const t = pgSchema.tasks;
    return (await h.db
      .select()
      .from(t)
      .where(eq(t[column], value as never))
      .orderBy(t.id)) as TaskRow[];
  };
  return {
    srv,
    sims,
    channelIds,
    async caller(quota = 10_000_000, remainQuota?: number) {
      const user = await addUser(srv.handle, { quota });
      const key =
        remainQuota === undefined
          ? await addApiKey(srv.handle, user.id, { unlimited: true })
          : await addApiKey(srv.handle, user.id, { unlimited: false, remainQuota });
      return { userId: user.id, tokenId: key.id, key: key.key, headers: key.headers };
    },
    post: (path, body, headers) => call('POST', path, headers, body),
    get: (path, headers) => call('GET', path, headers),
    async task(ref) {
      return (await tasksWhere(typeof ref === 'number' ? 'id' : 'mjId', ref))[0];
    },
    tasksOf: (userId) => tasksWhere('userId', userId),
    quota: (userId) => quotaOf(srv.handle, userId),
    remainQuota: async (tokenId) => (await rowById(srv.handle, 'tokens', tokenId))?.remainQuota ?? -1,
    async logCount(userId, type) {
      const h = srv.handle;
      if (h.kind === 'sqlite')
        return h.db
          .select()
          .from(logs)
          .where(and(eq(logs.userId, userId), eq(logs.type, type)))
          .all().length;
      const t = pgSchema.logs;
      return (
        await h.db
          .select({ id: t.id })
          .from(t)
          .where(and(eq(t.userId, userId), eq(t.type, type)))
      ).length;
    },
    async markSuccess(mjId) {
      const h = srv.handle;
      if (h.kind === 'sqlite')
        h.db.update(tasks).set({ status: 'SUCCESS', progress: '100%' }).where(eq(tasks.mjId, mjId)).run();
      else
        await h.db
          .update(pgSchema.tasks)
          .set({ status: 'SUCCESS', progress: '100%' })
          .where(eq(pgSchema.tasks.mjId, mjId));
    },
    channel: (id) => rowById(srv.handle, 'channels', id),
    setChannel: (id, values) => updateRow(srv.handle, 'channels', id, values),
    addChannel: (baseUrl, opts) => addChannel(srv.handle, baseUrl, opts),
    deleteChannel: (id) => deleteRow(srv.handle, 'channels', id),
    async stop() {
      for (const sim of sims) await sim.stop();
      await srv.stop();
    },
  };
}

export { LOG_TYPE };
