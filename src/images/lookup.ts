import { hostKeyOf } from '../upstream/safe-fetch.ts';

/**
 * The channels' hosts the image forwarder trusts (the SSRF guard), read through the store's
 * channel list; the task by mj_id is read through the task store (TaskStore.tasks.imageTask).
 */

/** Trusted hosts are re-read at most this often; a refusal re-reads them at once (see image.ts). */
const HOSTS_TTL_MS = 2000;

/** Where channel base URLs come from (the store's channels; images/ names only the shape). */
export interface ChannelBaseUrls {
  baseUrls(): Promise<string[]>;
}

interface HostCache {
  hosts: ReadonlySet<string>;
  hostsReadAt: number;
}

const hostCache = new WeakMap<ChannelBaseUrls, HostCache>();

/**
 * `hostname:port` keys of every channel's base URL. Kept for a moment, since channels change
 * rarely and images are asked for in bursts; `fresh` re-reads them (a channel added through the
 * API a moment ago must not see its images refused).
 */
export async function channelHosts(
  source: ChannelBaseUrls,
  fresh = false,
): Promise<{ hosts: ReadonlySet<string>; fresh: boolean }> {
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
