import { desc, eq, sql } from 'drizzle-orm';
import type { DB } from '../db/client.ts';
import { tasks } from '../db/schema/index.ts';
import { hostKeyOf } from '../upstream/safe-fetch.ts';

/**
 * What the image forwarder reads per request: the task by mj_id (prepared once per database) and
 * the channels' hosts (trusted by the SSRF guard), read through the store's channel list.
 */

/** Trusted hosts are re-read at most this often; a refusal re-reads them at once (see image.ts). */
const HOSTS_TTL_MS = 2000;

function prepare(db: DB) {
  return {
    task: db.select({ status: tasks.status, imageUrl: tasks.imageUrl }).from(tasks)
      .where(eq(tasks.mjId, sql.placeholder('mjId'))).orderBy(desc(tasks.id)).limit(1).prepare(),
  };
}

const statementCache = new WeakMap<DB, ReturnType<typeof prepare>>();

function statements(db: DB): ReturnType<typeof prepare> {
  let s = statementCache.get(db);
  if (!s) statementCache.set(db, (s = prepare(db)));
  return s;
}

/** Where channel base URLs come from (the store's channels; images/ names only the shape). */
export interface ChannelBaseUrls {
  baseUrls(): Promise<string[]>;
}

interface HostCache {
  hosts: ReadonlySet<string>;
  hostsReadAt: number;
}

const hostCache = new WeakMap<ChannelBaseUrls, HostCache>();

export interface ImageTask {
  status: string;
  imageUrl: string;
}

/** The newest task with this mj_id (any user). */
export function imageTaskOf(db: DB, mjId: string): ImageTask | null {
  return statements(db).task.get({ mjId }) ?? null;
}

/**
 * `hostname:port` keys of every channel's base URL. Kept for a moment, since channels change
 * rarely and images are asked for in bursts; `fresh` re-reads them (a channel added through the
 * API a moment ago must not see its images refused).
 */
export async function channelHosts(source: ChannelBaseUrls, fresh = false): Promise<{ hosts: ReadonlySet<string>; fresh: boolean }> {
  let c = hostCache.get(source);
  if (!c) hostCache.set(source, (c = { hosts: new Set(), hostsReadAt: -Infinity }));
  const now = performance.now();
  if (!fresh && now - c.hostsReadAt < HOSTS_TTL_MS) return { hosts: c.hosts, fresh: false };
  const keys = new Set<string>();
  for (const baseUrl of await source.baseUrls()) {
    const k = hostKeyOf(baseUrl);
    if (k) keys.add(k);
  }
  c.hosts = keys;
  c.hostsReadAt = now;
  return { hosts: keys, fresh: true };
}
