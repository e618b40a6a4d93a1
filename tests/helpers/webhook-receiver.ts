import { createHmac, timingSafeEqual } from 'node:crypto';

/** One POST the receiver got. */
export interface ReceivedHook {
  path: string;
  deliveryId: string | null;
  signature: string | null;
  contentType: string | null;
  body: string;
}

/** A real HTTP webhook receiver on a free loopback port; answers the queued statuses, then 200. */
export interface WebhookReceiver {
  url: string;
  received: ReceivedHook[];
  /** Statuses to answer next, in order (e.g. [500, 500] then 200s). */
  answer(...statuses: number[]): void;
  /** Forget the queued statuses: answer 200 from now on. */
  clearAnswers(): void;
  stop(): Promise<void>;
}

export function startWebhookReceiver(): WebhookReceiver {
  const received: ReceivedHook[] = [];
  const queue: number[] = [];
  const server: ReturnType<typeof Bun.serve> = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    async fetch(req): Promise<Response> {
      received.push({
        path: new URL(req.url).pathname,
        deliveryId: req.headers.get('x-mj-delivery-id'),
        signature: req.headers.get('x-mj-signature'),
        contentType: req.headers.get('content-type'),
        body: await req.text(),
      });
      const status = queue.shift() ?? 200;
      return status >= 300 && status < 400
        ? new Response(null, { status, headers: { location: `http://127.0.0.1:${server.port}/elsewhere` } })
        : new Response('ok', { status });
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    received,
    answer: (...statuses) => void queue.push(...statuses),
    clearAnswers: () => void queue.splice(0),
    stop: () => server.stop(true),
  };
}

/**
 * How a client verifies `X-Mj-Signature` (the README's snippet): HMAC-SHA256 over "<t>.<raw body>",
 * compared in constant time against every `v1` of the header (two for 24 h after a rotation), with
 * the timestamp within `toleranceS` of `nowS`.
 */
export function verifySignature(
  secret: string,
  header: string,
  rawBody: string,
  nowS: number,
  toleranceS = 300,
): boolean {
  const pairs = header.split(',').map((kv) => kv.split('=', 2) as [string, string]);
  const t = Number(pairs.find(([k]) => k === 't')?.[1]);
  const v1s = pairs.filter(([k, v]) => k === 'v1' && v !== undefined).map(([, v]) => v);
  if (!Number.isInteger(t) || Math.abs(nowS - t) > toleranceS || v1s.length === 0) return false;
  const expected = createHmac('sha256', secret).update(`${t}.${rawBody}`).digest();
  return v1s.some((v1) => {
    const given = Buffer.from(v1, 'hex');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}
