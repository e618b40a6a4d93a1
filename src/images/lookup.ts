import type { DB } from '../db/client.ts';
import { channels } from '../db/schema/index.ts';
import { hostKeyOf } from '../upstream/safe-fetch.ts';

/**
 * The channels' hosts (trusted by the SSRF guard), prepared once per database; the task by mj_id
 * is read through the task store (TaskStore.tasks.imageTask).
 */

/** Trusted hosts are re-read at most this often; a refusal re-reads them at once (see image.ts). */
const HOSTS_TTL_MS = 2000;

function prepare(db: DB) {
  return {
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
