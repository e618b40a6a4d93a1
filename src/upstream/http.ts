/**
 * One HTTP call to an upstream midjourney-proxy channel, with its `mj-api-secret` and a hard
 * timeout. Never throws: the outcome says what happened so callers can map each case (SPEC §7.2
 * step 7, §8) without try/catch around the network.
 */

export interface UpstreamTarget {
  baseUrl: string;
  /** Channel key, sent as `mj-api-secret` (a `Bearer ` prefix is removed). */
  key: string;
}

export interface UpstreamRequest {
  method: 'GET' | 'POST';
  /** Path (and query) appended to the base URL, e.g. `/mj/submit/imagine`. */
  path: string;
  body?: unknown;
  timeoutMs: number;
  /** Extra abort (e.g. the server shutting down). */
  signal?: AbortSignal;
  /** Answers past this many bytes are refused unread (default MAX_UPSTREAM_ANSWER_BYTES). */
  maxAnswerBytes?: number;
}

export type UpstreamOutcome =
  | { kind: 'response'; status: number; text: string; json: unknown | undefined }
  | { kind: 'timeout' }
  /**
   * `connect`: no connection was made (refused, unresolvable, unreachable), so the upstream surely
   * never saw the request and another channel may take it. `exchange`: anything after that (reset,
   * dropped mid-response): the upstream may have the job.
   */
  | { kind: 'network'; message: string; stage: 'connect' | 'exchange' };

/** Error codes of Bun's fetch that mean the connection was never made. */
const CONNECT_ERROR_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ConnectionRefused',
  'FailedToOpenSocket',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

function stageOf(err: unknown): 'connect' | 'exchange' {
  const code = typeof err === 'object' && err !== null && 'code' in err ? (err as { code: unknown }).code : undefined;
  return typeof code === 'string' && CONNECT_ERROR_CODES.has(code) ? 'connect' : 'exchange';
}

/**
 * The most an upstream answer may hold. A poll batch of 100 tasks at their stored bounds is a few
 * MB; anything far past that is a broken or hostile channel, not an answer to read into memory.
 */
export const MAX_UPSTREAM_ANSWER_BYTES = 64 * 1024 * 1024;

class AnswerTooLarge extends Error {}

const utf8 = new TextDecoder();

/** The body as text, refusing (and cancelling) one that grows past `limit` bytes. */
async function readCapped(res: Response, limit: number): Promise<string> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  // A declared length within the limit bounds the body as sent, and without a content-encoding
  // the runtime hands over exactly those bytes: read natively in one go (before touching
  // `res.body`, which would make a JS stream of it). A compressed or undeclared body, whose size
  // is known only once read, goes through the counting reader below.
  if (declared <= limit && !res.headers.has('content-encoding')) return res.text();
  if (declared > limit || !res.body) {
    await res.body?.cancel().catch(() => {});
    if (declared > limit) throw new AnswerTooLarge(`upstream answer larger than ${limit} bytes`);
    return '';
  }
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      throw new AnswerTooLarge(`upstream answer larger than ${limit} bytes`);
    }
    chunks.push(value);
  }
  return utf8.decode(Buffer.concat(chunks));
}

export async function callUpstream(
  fetchFn: typeof fetch,
  target: UpstreamTarget,
  req: UpstreamRequest,
): Promise<UpstreamOutcome> {
  const headers: Record<string, string> = { accept: 'application/json' };
  const key = target.key.replace(/^bearer\s+/i, '').trim();
  if (key) headers['mj-api-secret'] = key;
  if (req.body !== undefined) headers['content-type'] = 'application/json';
  const timeout = AbortSignal.timeout(req.timeoutMs);
  const signal = req.signal ? AbortSignal.any([timeout, req.signal]) : timeout;
  try {
    const res = await fetchFn(`${target.baseUrl}${req.path}`, {
      method: req.method,
      headers,
      body: req.body === undefined ? undefined : JSON.stringify(req.body),
      signal,
      redirect: 'manual',
    });
    const text = await readCapped(res, req.maxAnswerBytes ?? MAX_UPSTREAM_ANSWER_BYTES);
    let json: unknown | undefined;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { kind: 'response', status: res.status, text, json };
  } catch (err) {
    if (err instanceof AnswerTooLarge) return { kind: 'network', message: err.message, stage: 'exchange' };
    if (timeout.aborted) return { kind: 'timeout' };
    return { kind: 'network', message: err instanceof Error ? err.message : String(err), stage: stageOf(err) };
  }
}
