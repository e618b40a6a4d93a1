import { lookup as dnsLookup } from 'node:dns/promises';
import { ipVersion, isPublicAddress } from './safe-fetch-ip.ts';

/**
 * SSRF-safe GET/HEAD for the image forwarder (SPEC §9). A URL is fetched only when it is http(s)
 * and its host is public (every address it resolves to), or is the host of a configured channel,
 * or private addresses are allowed outright. Redirects are followed by hand, each hop checked
 * again. A host that was resolved and checked is connected to at the checked address (the
 * original name goes in `Host` and, for https, in the TLS server name), so a DNS answer that
 * changes between the check and the connection cannot point the request elsewhere.
 */

export interface SafeFetchPolicy {
  /** IMAGE_FETCH_ALLOW_PRIVATE: skip the address check entirely. */
  allowPrivate: boolean;
  /** `hostname:port` keys (see hostKey) that are trusted whatever they resolve to: the channels' hosts. */
  trustedHosts: ReadonlySet<string>;
}

/** Resolves a host name to all its addresses. */
export type Lookup = (hostname: string) => Promise<string[]>;

/**
 * Keeps each answer of `inner` for `ttlMs` (at most `maxHosts` names; failures are not kept).
 * Safe for the guard: every request still checks every address of the answer it uses, and
 * connects to a checked address, so a cached answer can only be older, never unchecked.
 */
export function cachedLookup(inner: Lookup, ttlMs = 30_000, maxHosts = 1000): Lookup {
  const answers = new Map<string, { addresses: string[]; until: number }>();
  return async (hostname) => {
    const now = performance.now();
    const hit = answers.get(hostname);
    if (hit && hit.until > now) return hit.addresses;
    const addresses = await inner(hostname);
    answers.delete(hostname);
    if (answers.size >= maxHosts) answers.delete(answers.keys().next().value ?? '');
    answers.set(hostname, { addresses, until: now + ttlMs });
    return addresses;
  };
}

/** The system resolver behind a 30-second cache (getaddrinfo per image request costs a thread hop). */
export const systemLookup: Lookup = cachedLookup(async (hostname) =>
  (await dnsLookup(hostname, { all: true, verbatim: true })).map((a) => a.address),
);

export interface SafeFetchOptions {
  fetch: typeof fetch;
  policy: SafeFetchPolicy;
  method?: 'GET' | 'HEAD';
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Most redirects followed; default 3. */
  maxRedirects?: number;
  lookup?: Lookup;
}

export type SafeFetchResult =
  | { kind: 'response'; response: Response; url: string }
  | { kind: 'blocked'; reason: string; url: string }
  | { kind: 'too_many_redirects'; url: string }
  /** Connection or DNS failure, or an abort through `signal` (the caller knows which signal fired). */
  | { kind: 'network'; message: string };

const REDIRECTS: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);

/** `hostname:port` with the scheme's default port made explicit, lower case; IPv6 in brackets. */
export function hostKey(url: URL): string {
  const port = url.port || (url.protocol === 'https:' ? '443' : url.protocol === 'http:' ? '80' : '');
  return `${url.hostname.toLowerCase()}:${port}`;
}

/** hostKey of a base URL string, or null when it does not parse. */
export function hostKeyOf(baseUrl: string): string | null {
  try {
    return hostKey(new URL(baseUrl));
  } catch {
    return null;
  }
}

type Check = { ok: true; address: string | null } | { ok: false; reason: string } | { ok: 'error'; message: string };

/** Decides whether a URL may be fetched; `address` is the checked address to connect to (pinning). */
export async function checkTarget(url: URL, policy: SafeFetchPolicy, lookup: Lookup = systemLookup): Promise<Check> {
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return { ok: false, reason: `scheme ${url.protocol} is not allowed` };
  if (policy.allowPrivate || policy.trustedHosts.has(hostKey(url))) return { ok: true, address: null };
  const host = url.hostname;
  if (ipVersion(host) !== 0) {
    return isPublicAddress(host) ? { ok: true, address: null } : { ok: false, reason: `address ${host} is not public` };
  }
  let addresses: string[];
  try {
    addresses = await lookup(host);
  } catch (err) {
    return { ok: 'error', message: `cannot resolve ${host}: ${err instanceof Error ? err.message : String(err)}` };
  }
  if (addresses.length === 0) return { ok: 'error', message: `cannot resolve ${host}` };
  const bad = addresses.find((a) => !isPublicAddress(a));
  if (bad !== undefined) return { ok: false, reason: `${host} resolves to ${bad}, which is not public` };
  return { ok: true, address: addresses[0] ?? null };
}

/**
 * The request that reaches `url` at `address` while still naming the original host: the URL
 * carries the address, `Host` the name, and TLS verifies the certificate for the name.
 */
export function pinnedRequest(url: URL, address: string): { url: string; host: string; serverName: string | null } {
  const pinned = new URL(url.href);
  pinned.hostname = ipVersion(address) === 6 ? `[${address}]` : address;
  return { url: pinned.href, host: url.host, serverName: url.protocol === 'https:' ? url.hostname : null };
}

/**
 * The URL to fetch for a checked `url`: pinned to the `address` the check resolved (when it
 * resolved one), with `Host` set on `headers` and the TLS name on `init`, so no second lookup can
 * lead the request elsewhere.
 */
export function pinTarget(
  url: URL,
  address: string | null,
  headers: Record<string, string>,
  init: { tls?: { serverName?: string } },
): string {
  if (address === null) return url.href;
  const pinned = pinnedRequest(url, address);
  headers.host = pinned.host;
  if (pinned.serverName !== null) init.tls = { serverName: pinned.serverName };
  return pinned.url;
}

/** GET/HEAD `target` under the policy, following at most `maxRedirects` redirects by hand. */
export async function safeFetch(target: string, opts: SafeFetchOptions): Promise<SafeFetchResult> {
  const maxRedirects = opts.maxRedirects ?? 3;
  const method = opts.method ?? 'GET';
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return { kind: 'blocked', reason: 'not a valid URL', url: target };
  }
  for (let hop = 0; ; hop++) {
    const check = await checkTarget(url, opts.policy, opts.lookup);
    if (check.ok === 'error') return { kind: 'network', message: check.message };
    if (check.ok === false) return { kind: 'blocked', reason: check.reason, url: url.href };
    const headers: Record<string, string> = { ...opts.headers };
    // `decompress: false`: an encoded body comes as it was sent, with its Content-Encoding, to be
    // forwarded and stored as is. Bun would otherwise inflate it on the way: a 50 KB gzip body
    // can be 50 MiB of zeros (or any size), sent on and stored under its compressed headers.
    const init: RequestInit & { tls?: { serverName?: string }; decompress?: boolean } = {
      method,
      headers,
      redirect: 'manual',
      signal: opts.signal,
      decompress: false,
    };
    const fetchUrl = pinTarget(url, check.address, headers, init);
    let res: Response;
    try {
      res = await opts.fetch(fetchUrl, init);
    } catch (err) {
      return { kind: 'network', message: err instanceof Error ? err.message : String(err) };
    }
    const location = res.headers.get('location');
    if (!REDIRECTS.has(res.status) || location === null) return { kind: 'response', response: res, url: url.href };
    await res.body?.cancel().catch(() => {});
    if (hop >= maxRedirects) return { kind: 'too_many_redirects', url: url.href };
    try {
      url = new URL(location, url);
    } catch {
      return { kind: 'blocked', reason: 'redirect to an invalid URL', url: location };
    }
  }
}
