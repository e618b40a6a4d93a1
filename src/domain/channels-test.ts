import type { ManagementStore } from '../contract/index.ts';
import { callUpstream } from '../upstream/http.ts';
import { AppError } from './errors.ts';

/** Outcome of `admin.channel.test`: reachability and round-trip time of one channel. */
export interface ChannelTestResult {
  success: boolean;
  latency_ms: number;
  /** Upstream HTTP status, when it answered. */
  status?: number;
  message?: string;
}

/**
 * Call the channel the way the poller does (`POST /mj/task/list-by-condition {ids: []}` with its
 * `mj-api-secret`): harmless upstream, and it proves both the address and the key. Success means
 * HTTP 200 with a JSON array. Latency is wall time, measured here rather than with the app clock,
 * which tests may hold still.
 */
export async function testChannel(
  env: { store: Pick<ManagementStore, 'channels'>; fetch: typeof fetch },
  id: number,
  timeoutMs: number,
): Promise<ChannelTestResult> {
  const channel = await env.store.channels.byId(id);
  if (!channel) throw new AppError('NOT_FOUND', `channel ${id} not found`);
  const started = performance.now();
  const outcome = await callUpstream(
    env.fetch,
    { baseUrl: channel.baseUrl, key: channel.key },
    {
      method: 'POST',
      path: '/mj/task/list-by-condition',
      body: { ids: [] },
      timeoutMs,
    },
  );
  const latency_ms = Math.round(performance.now() - started);
  if (outcome.kind === 'timeout') return { success: false, latency_ms, message: `no answer within ${timeoutMs} ms` };
  if (outcome.kind === 'network') return { success: false, latency_ms, message: `request failed: ${outcome.message}` };
  if (outcome.status === 401 || outcome.status === 403) {
    return {
      success: false,
      latency_ms,
      status: outcome.status,
      message: `upstream refused the channel key (HTTP ${outcome.status})`,
    };
  }
  if (outcome.status !== 200)
    return { success: false, latency_ms, status: outcome.status, message: `upstream answered HTTP ${outcome.status}` };
  if (!Array.isArray(outcome.json))
    return { success: false, latency_ms, status: 200, message: 'upstream answer is not a JSON array of tasks' };
  return { success: true, latency_ms, status: 200, message: 'ok' };
}
