import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Operator metrics (SPEC §10, `GET /metrics`). One registry per app instance, never prom-client's
 * global one, so several gateways in one process (tests) keep their own numbers. Measured code
 * calls one method here per measured point; every label has a bounded set of values (route
 * patterns, actions, codes, channel ids), never a raw URL or free text.
 */
export interface Metrics {
  readonly registry: Registry;
  /** One answered HTTP request; `route` is the matched pattern (`/mj/task/:id/fetch`), or `unmatched`. */
  httpRequest(method: string, route: string, status: number): void;
  /** How a submit ended: `code` is the upstream's code, or the local refusal's code. */
  submitOutcome(action: string, code: string | number): void;
  quotaCharged(quota: number): void;
  /** A new job moved off `fromChannel` to another channel; `reason` is one of a fixed few (`connect`, `http_5xx`, `code_3`, `code_23`). */
  submitFailover(fromChannel: number, reason: string): void;
  /** A relay submit refused by its key's rate limit. */
  rateLimited(): void;
  quotaRefunded(quota: number): void;
  /** Duration of one poller tick. */
  pollTick(ms: number): void;
  /** Runs `call` and records how long the channel took to answer it. */
  timeUpstream<T>(channelId: number, call: 'submit' | 'poll' | 'image-seed', run: () => Promise<T>): Promise<T>;
  /**
   * The body, passed through unchanged, its bytes counted: by the declared length when there is
   * one (no extra stream stage on the hot path), else chunk by chunk as they stream.
   */
  countImageBytes(
    body: ReadableStream<Uint8Array> | null,
    declaredLength?: number | null,
  ): ReadableStream<Uint8Array> | null;
  /** Bytes of an image answered from the local store. */
  addImageBytes(n: number): void;
  /** One rendition made with sharp (SPEC §18), or one whose source sharp could not decode. */
  imageRendition(outcome: 'made' | 'failed'): void;
  /** One webhook delivery attempt's outcome: delivered, retry (will be tried again), failed (for good). */
  webhookDelivery(outcome: 'delivered' | 'retry' | 'failed'): void;
  /** One upstream push callback (SPEC §16): applied (it changed the task), unchanged, or why it was refused. */
  upstreamNotify(outcome: 'applied' | 'unchanged' | 'unknown_task' | 'invalid_secret' | 'invalid'): void;
  /** Source of the unfinished-tasks gauge, read at scrape time (count per channel id). */
  setUnfinishedSource(
    read: () =>
      | Promise<ReadonlyArray<{ channelId: number; count: number }>>
      | ReadonlyArray<{ channelId: number; count: number }>,
  ): void;
}

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/**
 * The `code` label of a submit outcome. Numbers come from the upstream (its `code`, or the HTTP
 * status it answered): a hostile upstream could mint a new series per answer, so only whole
 * numbers 0..599 (every midjourney-proxy code and HTTP status) keep their value; our own refusals
 * are a fixed set of words.
 */
export function outcomeLabel(code: string | number): string {
  if (typeof code === 'string') return code;
  return Number.isInteger(code) && code >= 0 && code < 600 ? String(code) : 'other';
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  // Requests are tallied per label set in a Map and handed to prom-client at scrape time: its
  // label validation and hashing on every request cost more than the rest of the metrics path.
  const tally = new Map<string, { labels: { method: string; route: string; status: string }; n: number }>();
  new Counter({
    name: 'mjgw_http_requests_total',
    help: 'HTTP requests answered, by method, matched route pattern and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
    collect() {
      for (const t of tally.values()) {
        if (t.n === 0) continue;
        this.inc(t.labels, t.n);
        t.n = 0;
      }
    },
  });
  /** A counter in this instance's registry. */
  const counter = <L extends string = string>(name: string, help: string, labelNames: readonly L[] = []) =>
    new Counter<L>({ name, help, labelNames, registers: [registry] });
  const submits = counter(
    'mjgw_submit_outcomes_total',
    'Relay submits by action and outcome code (upstream code, or the local refusal)',
    ['action', 'code'],
  );
  const charged = counter('mjgw_quota_charged_total', 'Quota charged for submits');
  const refunded = counter(
    'mjgw_quota_refunded_total',
    'Quota refunded (rejected submits, failures, timeouts, orphans)',
  );
  const failovers = counter(
    'mjgw_submit_failovers_total',
    'New jobs moved to another channel, by the channel they left and why',
    ['from_channel', 'reason'],
  );
  const rateLimited = counter('mjgw_rate_limited_total', 'Relay submits refused by a key rate limit (HTTP 429)');
  const imageBytes = counter('mjgw_image_bytes_total', 'Image bytes streamed to clients by the image forwarder');
  const renditions = counter(
    'mjgw_image_renditions_total',
    'Image renditions made with sharp (made), or given up because the source did not decode (failed)',
    ['outcome'],
  );
  const pollTick = new Histogram({
    name: 'mjgw_poll_tick_duration_seconds',
    help: 'Duration of one poller tick',
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const upstream = new Histogram({
    name: 'mjgw_upstream_latency_seconds',
    help: 'Time until an upstream channel answered (or failed), by channel and call',
    labelNames: ['channel', 'call'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const webhooks = counter(
    'mjgw_webhook_deliveries_total',
    'Webhook delivery attempts by outcome (delivered, retry, failed)',
    ['outcome'],
  );
  const notifies = counter(
    'mjgw_upstream_notify_total',
    'Upstream push callbacks by outcome (applied, unchanged, unknown_task, invalid_secret, invalid)',
    ['outcome'],
  );
  let readUnfinished: () =>
    | Promise<ReadonlyArray<{ channelId: number; count: number }>>
    | ReadonlyArray<{ channelId: number; count: number }> = () => [];
  new Gauge({
    name: 'mjgw_tasks_unfinished',
    help: 'Unfinished tasks (progress not 100%) by channel, read at scrape time',
    labelNames: ['channel'] as const,
    registers: [registry],
    async collect() {
      // The storage may answer asynchronously: read first, so the reset and the new values land together.
      const rows = await readUnfinished();
      // Channels whose last task finished must drop to nothing, not keep their old value.
      this.reset();
      for (const { channelId, count } of rows) this.set({ channel: String(channelId) }, count);
    },
  });

  return {
    registry,
    httpRequest(method, route, status) {
      const key = `${method} ${status} ${route}`;
      let t = tally.get(key);
      if (!t) tally.set(key, (t = { labels: { method, route, status: String(status) }, n: 0 }));
      t.n += 1;
    },
    submitOutcome: (action, code) => submits.inc({ action, code: outcomeLabel(code) }),
    quotaCharged: (q) => {
      if (q > 0) charged.inc(q);
    },
    submitFailover: (fromChannel, reason) => failovers.inc({ from_channel: String(fromChannel), reason }),
    rateLimited: () => rateLimited.inc(),
    quotaRefunded: (q) => {
      if (q > 0) refunded.inc(q);
    },
    pollTick: (ms) => pollTick.observe(ms / 1000),
    async timeUpstream(channelId, call, run) {
      const end = upstream.startTimer({ channel: String(channelId), call });
      try {
        return await run();
      } finally {
        end();
      }
    },
    countImageBytes(body, declaredLength) {
      if (!body) return body;
      if (declaredLength != null) {
        imageBytes.inc(declaredLength);
        return body;
      }
      return body.pipeThrough(
        new TransformStream<Uint8Array, Uint8Array>({
          transform(chunk, controller) {
            imageBytes.inc(chunk.byteLength);
            controller.enqueue(chunk);
          },
        }),
      );
    },
    addImageBytes(n) {
      imageBytes.inc(n);
    },
    imageRendition: (outcome) => renditions.inc({ outcome }),
    webhookDelivery: (outcome) => webhooks.inc({ outcome }),
    upstreamNotify: (outcome) => notifies.inc({ outcome }),
    setUnfinishedSource(read) {
      readUnfinished = read;
    },
  };
}
