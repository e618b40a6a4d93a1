import { desc, eq, sql } from 'drizzle-orm';
import type { DB } from '../db/client.ts';
import { channels, tasks } from '../db/schema/index.ts';
import { hostKeyOf } from '../upstream/safe-fetch.ts';

/**
 * What the image forwarder reads per request, prepared once per database: the task by mj_id and
 * the channels' hosts (trusted by the SSRF guard).
 */

/** Trusted hosts are re-read at most this often; a refusal re-reads them at once (see image.ts). */
const HOSTS_TTL_MS = 2000;

function prepare(db: DB) {
  return {
    task: db.select({ status: tasks.status, imageUrl: tasks.imageUrl }).from(tasks)
      .where(eq(tasks.mjId, sql.placeholder('mjId'))).orderBy(desc(tasks.id)).limit(1).prepare(),
    baseUrls: db.select({ baseUrl: channels.baseUrl }).from(channels).prepare(),
  };
}

interface PerDb {
  statements: ReturnType<typeof prepare>;
  hosts: ReadonlySet<string>;
  hostsReadAt: number;
}

const cache = new WeakMap<DB, PerDb>();

function perDb(db: DB): PerDb {
  let c = cache.get(db);
  if (!c) cache.set(db, (c = { statements: prepare(db), hosts: new Set(), hostsReadAt: -Infinity }));
  return c;
}

export interface ImageTask {
  status: string;
  imageUrl: string;
}

/** The newest task with this mj_id (any user). */
export function imageTaskOf(db: DB, mjId: string): ImageTask | null {
  return perDb(db).statements.task.get({ mjId }) ?? null;
}

/**
 * `hostname:port` keys of every channel's base URL. Kept for a moment, since channels change
 * rarely and images are asked for in bursts; `fresh` re-reads them (a channel added through the
 * API a moment ago must not see its images refused).
 */
export function channelHosts(db: DB, fresh = false): { hosts: ReadonlySet<string>; fresh: boolean } {
  const c = perDb(db);
  const now = performance.now();
  if (!fresh && now - c.hostsReadAt < HOSTS_TTL_MS) return { hosts: c.hosts, fresh: false };
  const keys = new Set<string>();
  for (const { baseUrl } of c.statements.baseUrls.all()) {
    const k = hostKeyOf(baseUrl);
    if (k) keys.add(k);
  }
  c.hosts = keys;
  c.hostsReadAt = now;
  return { hosts: keys, fresh: true };
}
