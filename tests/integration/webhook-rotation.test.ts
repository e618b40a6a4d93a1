import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { createHmac } from 'node:crypto';
import { listTokens, updateToken } from '../../src/domain/tokens.ts';
import { ROTATION_OVERLAP_MS } from '../../src/domain/webhooks-sign.ts';
import { createWebhookWorker, type WebhookWorker } from '../../src/jobs/webhooks.ts';
import { ManualClock } from '../../src/lib/clock.ts';
import { silentLogger } from '../../src/lib/logger.ts';
import { BACKENDS, type HookBackend } from '../helpers/webhook-backends.ts';
import { startWebhookReceiver, verifySignature, type WebhookReceiver } from '../helpers/webhook-receiver.ts';

/**
 * Webhook secret rotation with an overlap (issue 14, point 9; SPEC §15): for 24 h after
 * `rotate_webhook_secret` every delivery carries `t=<t>,v1=<new>,v1=<old>`, so a receiver still on
 * the old secret keeps verifying; after that, the new one only. Rotation through the domain's
 * updateToken on the real adapters, deliveries by the real worker to a real receiver, a
 * ManualClock moving time, on SQLite and on PostgreSQL.
 */

const hmac = (secret: string, t: string, body: string) =>
  createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');

function parse(header: string): { t: string; v1: string[] } {
  const pairs = header.split(',').map((kv) => kv.split('=', 2) as [string, string]);
  return { t: pairs.find(([k]) => k === 't')![1], v1: pairs.filter(([k]) => k === 'v1').map(([, v]) => v) };
}

for (const [dialect, open] of Object.entries(BACKENDS)) {
  describe(`webhook secret rotation on ${dialect}`, () => {
    const clock = new ManualClock(1_790_000_000_000);
    let b: HookBackend;
    let worker: WebhookWorker;
    let receiver: WebhookReceiver;

    beforeAll(async () => {
      b = await open();
      receiver = startWebhookReceiver();
      worker = createWebhookWorker({
        logger: silentLogger,
        clock,
        fetch: globalThis.fetch,
        taskStore: { outbox: b.outbox },
        config: { webhookAllowPrivate: true },
      });
    });

    afterAll(async () => {
      await worker.stop();
      await receiver.stop();
      await b.close();
    });

    /** Queue one change to `path`, deliver it, and return what the receiver got. */
    async function deliverOne(k: { userId: number; tokenId: number }, path: string) {
      await b.hookedTasks(k, () => `${receiver.url}${path}`, 1, 1, clock.now());
      await worker.runOnce();
      const got = receiver.received.filter((r) => r.path === path);
      expect(got).toHaveLength(1);
      return { header: got[0]!.signature!, body: got[0]!.body };
    }

    test('for 24 h after a rotation both secrets sign (new first), then the new one only', async () => {
      const k = await b.keyedUser(clock);
      const before = await deliverOne(k, '/before');
      expect(parse(before.header).v1).toHaveLength(1);

      const rotated = await updateToken({ tokens: b.tokens }, clock, k.userId, {
        id: k.tokenId,
        rotate_webhook_secret: true,
      });
      const fresh = rotated.webhook_secret;
      expect(fresh).toMatch(/^whsec_[A-Za-z0-9]{32}$/);
      expect(fresh).not.toBe(k.secret);
      // Neither secret is in the listing in full, the old one not at all.
      const listed = JSON.stringify(await listTokens({ tokens: b.tokens }, k.userId, {}));
      expect(listed).not.toContain(fresh);
      expect(listed).not.toContain(k.secret);

      const right = await deliverOne(k, '/right-after');
      const { t, v1 } = parse(right.header);
      expect(v1).toEqual([hmac(fresh, t, right.body), hmac(k.secret, t, right.body)]);
      expect(verifySignature(fresh, right.header, right.body, clock.now() / 1000)).toBe(true);
      expect(verifySignature(k.secret, right.header, right.body, clock.now() / 1000)).toBe(true);
      expect(verifySignature('whsec_someone_else', right.header, right.body, clock.now() / 1000)).toBe(false);

      clock.advance(ROTATION_OVERLAP_MS - 1000);
      const late = await deliverOne(k, '/last-second');
      expect(parse(late.header).v1).toHaveLength(2);
      expect(verifySignature(k.secret, late.header, late.body, clock.now() / 1000)).toBe(true);

      clock.advance(1000);
      const after = await deliverOne(k, '/after-24h');
      expect(parse(after.header).v1).toEqual([hmac(fresh, parse(after.header).t, after.body)]);
      expect(verifySignature(fresh, after.header, after.body, clock.now() / 1000)).toBe(true);
      expect(verifySignature(k.secret, after.header, after.body, clock.now() / 1000)).toBe(false);
    });

    test('a second rotation keeps only the secret it replaced beside the new one', async () => {
      const k = await b.keyedUser(clock);
      const first = (
        await updateToken({ tokens: b.tokens }, clock, k.userId, { id: k.tokenId, rotate_webhook_secret: true })
      ).webhook_secret;
      clock.advance(60_000);
      const second = (
        await updateToken({ tokens: b.tokens }, clock, k.userId, { id: k.tokenId, rotate_webhook_secret: true })
      ).webhook_secret;
      const got = await deliverOne(k, '/twice');
      const { t, v1 } = parse(got.header);
      expect(v1).toEqual([hmac(second, t, got.body), hmac(first, t, got.body)]);
      expect(verifySignature(k.secret, got.header, got.body, clock.now() / 1000)).toBe(false);
      // The overlap runs from the second rotation.
      clock.advance(ROTATION_OVERLAP_MS - 1);
      expect(parse((await deliverOne(k, '/twice-late')).header).v1).toHaveLength(2);
      // An update that does not rotate leaves the overlap as it is.
      await updateToken({ tokens: b.tokens }, clock, k.userId, { id: k.tokenId, name: 'renamed' });
      expect(parse((await deliverOne(k, '/renamed')).header).v1).toHaveLength(2);
      clock.advance(1);
      expect(parse((await deliverOne(k, '/twice-after')).header).v1).toHaveLength(1);
    });
  });
}
