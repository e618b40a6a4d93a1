import type { DeliveryRow } from '../contract/rows.ts';
import type { AppDeps } from '../deps.ts';
import { isDatabaseUnavailable } from '../domain/errors.ts';
import {
  type AttemptOutcome,
  DELIVERY_TIMEOUT_MS,
  deliveryIdOf,
  failedAttemptOf,
  signatureHeader,
  signingSecrets,
} from '../domain/webhooks-sign.ts';
import { createMetrics } from '../lib/metrics.ts';
import { RECEIVER_IN_FLIGHT, receiverOf, USER_IN_FLIGHT } from '../lib/webhook-receiver.ts';
import { checkTarget, type Lookup, pinTarget, systemLookup } from '../upstream/safe-fetch.ts';

export interface WebhookWorker {
  /** Runs a pass now and then every `intervalMs`; calling it twice does nothing more. */
  start(): void;
  /** Clears the interval and waits for the running pass (its sends end within their 5 s timeout). */
  stop(): Promise<void>;
  /** One pass (after the running one, if any): what tests drive. */
  runOnce(): Promise<WebhookPassReport>;
}

export type WebhookWorkerDeps = Pick<AppDeps, 'logger' | 'clock' | 'fetch'> & {
  taskStore: Pick<AppDeps['taskStore'], 'outbox'>;
} & Partial<Pick<AppDeps, 'metrics'>> & {
    config: Pick<AppDeps['config'], 'webhookAllowPrivate'>;
  };

export interface WebhookWorkerOptions {
  /** Period between looks at the outbox; default 100 ms (an idle look is one indexed query on the pending rows). */
  intervalMs?: number;
  /** Deliveries in flight at once, across all receivers; default 16. */
  concurrency?: number;
  /** Deliveries of one user in flight to one receiver (host:port); default RECEIVER_IN_FLIGHT (2). */
  perReceiver?: number;
  /** Deliveries in flight for one user; default USER_IN_FLIGHT (8). */
  perUser?: number;
  /** Rows read per look at the outbox (already spread over receivers and users by the query). Default 64. */
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

/** Rounds one runOnce makes at most (a round: start what may go, wait for it), so it always ends. */
const MAX_ROUNDS_PER_PASS = 200;
/** Gap between a send's end and the look it asks for. */
const LOOK_GAP_MS = 10;
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
 * Sends the webhook outbox (SPEC §15): due rows, each task's oldest first, each claimed before it
 * is sent. Sends are queued per user and receiver (host:port of the URL): at most `perReceiver` in
 * flight of one queue, `perUser` for one user, `concurrency` in all, and a slot is refilled as soon
 * as a send ends, from the rows the last look left waiting (never waiting for a batch), so a slow
 * receiver only ever holds its own few slots while every other receiver's deliveries go on.
 * Memory is bounded by `batchSize` rows read and `concurrency` sends, whatever the backlog.
 *
 * A send is a POST of the stored payload, signed with the API key's secret(s), behind the image
 * forwarder's SSRF check with the connection pinned to the checked address; redirects are not
 * followed; any 2xx within 5 s delivers, anything else is retried with backoff until the attempts
 * are spent.
 */
export function createWebhookWorker(deps: WebhookWorkerDeps, opts: WebhookWorkerOptions = {}): WebhookWorker {
  const logger = deps.logger.child({ component: 'webhooks' });
  const outbox = deps.taskStore.outbox;
  const metrics = deps.metrics ?? createMetrics();
  const intervalMs = opts.intervalMs ?? 100;
  const mayDeliver = opts.mayDeliver ?? (() => true);
  const concurrency = Math.max(1, opts.concurrency ?? 16);
  const perReceiver = Math.max(1, opts.perReceiver ?? RECEIVER_IN_FLIGHT);
  const perUser = Math.max(1, opts.perUser ?? USER_IN_FLIGHT);
  const batchSize = Math.max(1, opts.batchSize ?? 64);
  const baseLookup = opts.lookup ?? systemLookup;
  // A resolver that never answers must not hold the whole pass (and every other task's delivery).
  const lookup: Lookup = (host) =>
    new Promise<string[]>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no DNS answer within ${DELIVERY_TIMEOUT_MS} ms`)),
        DELIVERY_TIMEOUT_MS,
      );
      baseLookup(host)
        .then(resolve, reject)
        .finally(() => clearTimeout(timer));
    });
  const policy = { allowPrivate: deps.config.webhookAllowPrivate, trustedHosts: NO_TRUSTED_HOSTS };
  let timer: ReturnType<typeof setInterval> | null = null;
  let stopping = false;
  /** Sends in flight, by row id, and what they hold (a task, a queue's slot, a user's slot). */
  const inFlight = new Map<number, Promise<void>>();
  const tasksInFlight = new Set<number>();
  const byQueue = new Map<string, number>();
  const byUser = new Map<number, number>();
  /** What the background sends count into (metrics are what anyone reads of it). */
  const background: WebhookPassReport = { delivered: 0, retried: 0, failed: 0 };
  /** The background look running now, if any (stop waits for it, so nothing starts after stop). */
  let filling: Promise<void> | null = null;
  let refill = false;
  let soon: ReturnType<typeof setTimeout> | null = null;
  /**
   * Rows of the last look not started for want of a slot. Starting one later is safe: its claim is
   * a compare-and-set on the row as read, and it was its task's oldest pending row, which only its
   * own send changes.
   */
  let waiting: DeliveryRow[] = [];

  const bump = <K>(m: Map<K, number>, k: K, by: number) => {
    const n = (m.get(k) ?? 0) + by;
    if (n <= 0) m.delete(k);
    else m.set(k, n);
  };

  function count(report: WebhookPassReport, outcome: AttemptOutcome): void {
    metrics.webhookDelivery(outcome);
    if (outcome === 'delivered') report.delivered++;
    else if (outcome === 'retry') report.retried++;
    else report.failed++;
  }

  /** One attempt: the network part; returns null on a 2xx, else what went wrong. */
  async function post(
    row: DeliveryRow,
    secrets: readonly string[],
  ): Promise<{ refused: string } | { error: string } | null> {
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
      'x-mj-signature': signatureHeader(secrets, row.payload, deps.clock.now() / 1000),
    };
    const init: RequestInit & { tls?: { serverName?: string } } = {
      method: 'POST',
      headers,
      body: row.payload,
      redirect: 'manual',
      signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS),
    };
    const target = pinTarget(url, check.address, headers, init);
    try {
      const res = await deps.fetch(target, init);
      await res.body?.cancel().catch(() => {});
      if (res.status >= 200 && res.status < 300) return null;
      if (res.status >= 300 && res.status < 400) return { error: `HTTP ${res.status} (redirects are not followed)` };
      return { error: `HTTP ${res.status}` };
    } catch (err) {
      const name = err instanceof Error ? err.name : '';
      if (name === 'TimeoutError' || name === 'AbortError')
        return { error: `no answer within ${DELIVERY_TIMEOUT_MS} ms` };
      return { error: err instanceof Error ? err.message : String(err) };
    }
  }

  /** Sends one row; false when another worker had claimed it. */
  async function deliver(row: DeliveryRow, report: WebhookPassReport): Promise<boolean> {
    if (!(await outbox.claim(row, deps.clock.now()))) return false;
    const log = {
      deliveryId: deliveryIdOf(row.id),
      taskId: row.taskId,
      origin: originOf(row.url),
      attempt: row.attempts + 1,
    };
    const key = await outbox.secret(row.tokenId);
    const result = 'missing' in key ? { refused: key.missing } : await post(row, signingSecrets(key, deps.clock.now()));
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

  /** Start one send, holding its task, queue and user slots until it ends. */
  function launch(row: DeliveryRow, queue: string, report: WebhookPassReport): void {
    tasksInFlight.add(row.taskId);
    bump(byQueue, queue, 1);
    bump(byUser, row.userId, 1);
    const p = deliver(row, report)
      .catch((err: unknown) => {
        logger.error('webhook delivery crashed', {
          deliveryId: deliveryIdOf(row.id),
          error: err instanceof Error ? err : String(err),
        });
        return false;
      })
      .then((moved) => {
        inFlight.delete(row.id);
        tasksInFlight.delete(row.taskId);
        bump(byQueue, queue, -1);
        bump(byUser, row.userId, -1);
        // A send that moved its row frees a slot (refilled now from the waiting rows, in the
        // background) and may make the task's next change due: look again shortly. A crashed one
        // waits for the interval, so a failing database is not hammered.
        if (moved && timer && !stopping) {
          startWaiting(background);
          kickSoon();
        }
      });
    inFlight.set(row.id, p);
  }

  /** Start every waiting row whose task, queue and user have room; the rest keep waiting. How many started. */
  function startWaiting(report: WebhookPassReport): number {
    if (stopping || !mayDeliver()) return 0;
    let started = 0;
    const left: DeliveryRow[] = [];
    for (const row of waiting) {
      if (inFlight.has(row.id)) continue;
      const queue = `${row.userId} ${row.receiver || receiverOf(row.url)}`;
      if (
        stopping ||
        inFlight.size >= concurrency ||
        tasksInFlight.has(row.taskId) ||
        (byQueue.get(queue) ?? 0) >= perReceiver ||
        (byUser.get(row.userId) ?? 0) >= perUser
      ) {
        left.push(row);
        continue;
      }
      launch(row, queue, report);
      started++;
    }
    waiting = left;
    return started;
  }

  /** Read due rows (they replace the waiting ones) and start what has room; how many started. */
  async function fill(report: WebhookPassReport): Promise<number> {
    if (stopping || !mayDeliver() || inFlight.size >= concurrency) return 0;
    waiting = await outbox.due(deps.clock.now(), batchSize);
    return startWaiting(report);
  }

  /** An outage is expected and retried next time: one warn line, not an error per look. */
  function passFailed(err: unknown): void {
    if (isDatabaseUnavailable(err)) logger.warn('webhook pass failed: database unavailable');
    else logger.error('webhook pass failed', { error: err instanceof Error ? err : String(err) });
  }

  /** One look LOOK_GAP_MS after a send ends, however many end meanwhile: a busy outbox is not re-read per send. */
  function kickSoon(): void {
    if (soon) return;
    soon = setTimeout(() => {
      soon = null;
      if (timer && !stopping) kick();
    }, LOOK_GAP_MS);
  }

  /** A background look at the outbox; looks asked for meanwhile collapse into one more after it. */
  function kick(): void {
    if (filling) {
      refill = true;
      return;
    }
    refill = false;
    filling = fill(background)
      .then(() => undefined, passFailed)
      .finally(() => {
        filling = null;
        if (refill && timer && !stopping) kick();
      });
  }

  /** Until nothing more is due: start what may go, wait for it, look again. */
  async function pass(): Promise<WebhookPassReport> {
    const report: WebhookPassReport = { delivered: 0, retried: 0, failed: 0 };
    try {
      for (let i = 0; i < MAX_ROUNDS_PER_PASS && !stopping; i++) {
        const started = await fill(report);
        if (started === 0 && inFlight.size === 0) break;
        await Promise.all(inFlight.values());
      }
    } catch (err) {
      passFailed(err);
    }
    return report;
  }

  return {
    start() {
      if (timer) return;
      stopping = false;
      timer = setInterval(kick, intervalMs);
      timer.unref?.();
      kick();
    },
    async stop() {
      if (timer) clearInterval(timer);
      if (soon) clearTimeout(soon);
      timer = null;
      soon = null;
      stopping = true;
      // The look under way ends starting nothing; the sends in flight finish (each within its timeout).
      if (filling) await filling;
      await Promise.all(inFlight.values());
      stopping = false;
    },
    runOnce: pass,
  };
}
