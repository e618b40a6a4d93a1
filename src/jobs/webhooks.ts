import type { AppDeps } from '../deps.ts';
import type { DeliveryRow } from '../domain/store/tasks.ts';
import { DELIVERY_TIMEOUT_MS, deliveryIdOf, failedAttemptOf, signatureHeader, type AttemptOutcome } from '../domain/webhooks-sign.ts';
import { createMetrics } from '../lib/metrics.ts';
import { checkTarget, pinnedRequest, systemLookup, type Lookup } from '../upstream/safe-fetch.ts';
import { mapBounded } from './bounded.ts';

export interface WebhookWorker {
  /** Runs a pass now and then every `intervalMs`; calling it twice does nothing more. */
  start(): void;
  /** Clears the interval and waits for the running pass (its sends end within their 5 s timeout). */
  stop(): Promise<void>;
  /** One pass (after the running one, if any): what tests drive. */
  runOnce(): Promise<WebhookPassReport>;
}

export type WebhookWorkerDeps = Pick<AppDeps, 'logger' | 'clock' | 'fetch'> & { taskStore: Pick<AppDeps['taskStore'], 'outbox'> } & Partial<Pick<AppDeps, 'metrics'>> & {
  config: Pick<AppDeps['config'], 'webhookAllowPrivate'>;
};

export interface WebhookWorkerOptions {
  /** Period between passes; default 100 ms (an idle pass is one indexed query on the pending rows). */
  intervalMs?: number;
  /** Deliveries sent at the same time (each of a different task); default 16. */
  concurrency?: number;
  /** Rows read per batch; a pass reads again while the last batch sent anything. Default 200. */
  batchSize?: number;
  /** DNS resolution for the SSRF check (tests may pin names). */
  lookup?: Lookup;
  /**
   * Whether this process may deliver now: the poller leader only, so processes sharing a database
   * do not race for the outbox. Default: always (a single process, or a test).
   */
  mayDeliver?: () => boolean;
}

export interface WebhookPassReport {
  delivered: number;
  retried: number;
  failed: number;
}

/** Batches one pass reads at most, so a flood of due rows never starves the interval. */
const MAX_BATCHES_PER_PASS = 20;
const NO_TRUSTED_HOSTS: ReadonlySet<string> = new Set();

/** The origin of a hook URL, for logs (its path or query may carry the receiver's own token). */
function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(invalid url)';
  }
}

/**
 * Sends the webhook outbox (SPEC §15): due rows, each task's oldest first, concurrently across
 * tasks, each claimed before it is sent. A POST of the stored payload, signed with the API key's
 * secret, behind the image forwarder's SSRF check with the connection pinned to the checked
 * address; redirects are not followed; any 2xx within 5 s delivers, anything else is retried with
 * backoff until the attempts are spent.
 */
export function createWebhookWorker(deps: WebhookWorkerDeps, opts: WebhookWorkerOptions = {}): WebhookWorker {
  const logger = deps.logger.child({ component: 'webhooks' });
  const outbox = deps.taskStore.outbox;
  const metrics = deps.metrics ?? createMetrics();
  const intervalMs = opts.intervalMs ?? 100;
  const mayDeliver = opts.mayDeliver ?? (() => true);
  const concurrency = Math.max(1, opts.concurrency ?? 16);
  const batchSize = Math.max(1, opts.batchSize ?? 200);
  const baseLookup = opts.lookup ?? systemLookup;
  // A resolver that never answers must not hold the whole pass (and every other task's delivery).
  const lookup: Lookup = (host) => new Promise<string[]>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no DNS answer within ${DELIVERY_TIMEOUT_MS} ms`)), DELIVERY_TIMEOUT_MS);
    baseLookup(host).then(resolve, reject).finally(() => clearTimeout(timer));
  });
  const policy = { allowPrivate: deps.config.webhookAllowPrivate, trustedHosts: NO_TRUSTED_HOSTS };
  let timer: ReturnType<typeof setInterval> | null = null;
  let running: Promise<WebhookPassReport> | null = null;
  let stopping = false;

  function count(report: WebhookPassReport, outcome: AttemptOutcome): void {
    metrics.webhookDelivery(outcome);
    if (outcome === 'delivered') report.delivered++;
    else if (outcome === 'retry') report.retried++;
    else report.failed++;
  }

  /** One attempt: the network part; returns null on a 2xx, else what went wrong. */
  async function post(row: DeliveryRow, secret: string): Promise<{ refused: string } | { error: string } | null> {
    let url: URL;
    try {
      url = new URL(row.url);
    } catch {
      return { refused: 'refused: not a valid URL' };
    }
    const check = await checkTarget(url, policy, lookup);
    if (check.ok === false) return { refused: `refused: ${check.reason}` };
    if (check.ok === 'error') return { error: check.message };
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'mj-gateway-webhooks',
      'x-mj-delivery-id': deliveryIdOf(row.id),
      'x-mj-signature': signatureHeader(secret, row.payload, deps.clock.now() / 1000),
    };
    const init: RequestInit & { tls?: { serverName?: string } } = {
      method: 'POST', headers, body: row.payload, redirect: 'manual', signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS),
    };
    let target = url.href;
    if (check.address !== null) {
      const pinned = pinnedRequest(url, check.address);
      target = pinned.url;
      headers.host = pinned.host;
      if (pinned.serverName !== null) init.tls = { serverName: pinned.serverName };
    }
    try {
      const res = await deps.fetch(target, init);
      await res.body?.cancel().catch(() => {});
      if (res.status >= 200 && res.status < 300) return null;
      if (res.status >= 300 && res.status < 400) return { error: `HTTP ${res.status} (redirects are not followed)` };
      return { error: `HTTP ${res.status}` };
    } catch (err) {
      const name = err instanceof Error ? err.name : '';
      if (name === 'TimeoutError' || name === 'AbortError') return { error: `no answer within ${DELIVERY_TIMEOUT_MS} ms` };
      return { error: err instanceof Error ? err.message : String(err) };
    }
  }

  /** Sends one row; false when another worker had claimed it. */
  async function deliver(row: DeliveryRow, report: WebhookPassReport): Promise<boolean> {
    if (!(await outbox.claim(row, deps.clock.now()))) return false;
    const log = { deliveryId: deliveryIdOf(row.id), taskId: row.taskId, origin: originOf(row.url), attempt: row.attempts + 1 };
    const key = await outbox.secret(row.tokenId);
    const result = 'missing' in key ? { refused: key.missing } : await post(row, key.secret);
    if (result === null) {
      if (await outbox.markDelivered(row, deps.clock.now())) count(report, 'delivered');
      return true;
    }
    if ('refused' in result) {
      await outbox.markRefused(row, result.refused);
      count(report, 'failed');
      logger.info('webhook refused', { ...log, reason: result.refused });
      return true;
    }
    const next = failedAttemptOf(row.attempts, deps.clock.now());
    await outbox.markAttemptFailed(row, result.error, next.retryAt);
    const outcome = next.outcome;
    count(report, outcome);
    if (outcome === 'failed') logger.warn('webhook failed after its last attempt', { ...log, error: result.error });
    else logger.debug('webhook attempt failed', { ...log, error: result.error });
    return true;
  }

  async function pass(): Promise<WebhookPassReport> {
    const report: WebhookPassReport = { delivered: 0, retried: 0, failed: 0 };
    try {
      // On stop, the batch in flight finishes (each send within its timeout) and no other starts.
      for (let i = 0; i < MAX_BATCHES_PER_PASS && !stopping && mayDeliver(); i++) {
        const rows = await outbox.due(deps.clock.now(), batchSize);
        let sent = 0;
        await mapBounded(rows, concurrency, async (row) => {
          try {
            if (await deliver(row, report)) sent++;
          } catch (err) {
            logger.error('webhook delivery crashed', { deliveryId: deliveryIdOf(row.id), error: err instanceof Error ? err : String(err) });
          }
        });
        // A delivered change makes the task's next one due at once: read again until nothing moves.
        if (sent === 0) break;
      }
    } catch (err) {
      logger.error('webhook pass failed', { error: err instanceof Error ? err : String(err) });
    }
    return report;
  }

  function launch(): Promise<WebhookPassReport> {
    if (running) return running;
    const p = pass().finally(() => {
      if (running === p) running = null;
    });
    running = p;
    return p;
  }

  return {
    start() {
      if (timer) return;
      stopping = false;
      void launch();
      timer = setInterval(() => void launch(), intervalMs);
      timer.unref?.();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = null;
      stopping = true;
      if (running) await running;
      stopping = false;
    },
    async runOnce() {
      if (running) await running;
      return launch();
    },
  };
}
