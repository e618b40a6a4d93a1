import { describe, expect, test } from 'bun:test';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROTATION_OVERLAP_MS, signatureHeader, signingSecrets } from '../../src/domain/webhooks-sign.ts';
import { QUEUES_PER_LOOK, receiverOf, takeWalk, type Walked } from '../../src/lib/webhook-receiver.ts';

/** Pure parts of issue 14 points 6 and 9: receiver keys, the walk's cursor, the signing secrets, the README's verifier. */

describe('receivers and the walk of the outbox', () => {
  test('a receiver is host:port, the default port spelled out', () => {
    expect(receiverOf('http://Hooks.Example/a?b=1')).toBe('hooks.example:80');
    expect(receiverOf('http://hooks.example:80/other')).toBe('hooks.example:80');
    expect(receiverOf('https://hooks.example/x')).toBe('hooks.example:443');
    expect(receiverOf('http://user:pw@10.0.0.1:8080/x')).toBe('10.0.0.1:8080');
    expect(receiverOf('not a url')).toBe('invalid');
  });

  const row = (id: number, userId: number) => ({ id, userId });
  type Row = { id: number; userId: number };
  const walk = (queues: Array<[number, string, number[]]>): Walked<Row>[] =>
    queues.flatMap(([u, r, ids]): Walked<Row>[] =>
      ids.length === 0
        ? [{ walkUser: u, walkReceiver: r, row: null }]
        : ids.map((id) => ({ walkUser: u, walkReceiver: r, row: row(id, u) })),
    );

  test('rows come oldest first, at most perUser of one user; a walk that saw every queue starts over', () => {
    const got = takeWalk(
      walk([
        [1, 'a:80', [9, 12]],
        [1, 'b:80', [3]],
        [2, 'a:80', []],
        [3, 'c:80', [5, 6]],
      ]),
      2,
      64,
    );
    expect(got.rows.map((r) => r.id)).toEqual([5, 6, 9, 12]);
    expect(got.next).toBeNull();
  });

  test('a walk cut by its bound goes on after its last queue; one cut by the limit, at the first queue that did not fit', () => {
    const many = Array.from({ length: QUEUES_PER_LOOK }, (_, i): [number, string, number[]] => [
      i + 1,
      'r:80',
      [1000 + i],
    ]);
    expect(takeWalk(walk(many), 8, 10_000).next).toEqual({ userId: QUEUES_PER_LOOK, receiver: 'r:80' });
    const cut = takeWalk(
      walk([
        [1, 'a:80', [1, 2]],
        [2, 'a:80', [3, 4]],
        [3, 'a:80', [5]],
      ]),
      8,
      3,
    );
    expect(cut.rows.map((r) => r.id)).toEqual([1, 2, 3]);
    expect(cut.next).toEqual({ userId: 1, receiver: 'a:80' });
  });
});

describe('signing through a rotation', () => {
  const key = { secret: 'whsec_new', previous: 'whsec_old', rotatedAt: 1_000_000 };

  test('both secrets, new first, for 24 h after the rotation; the new one alone before and after', () => {
    expect(signingSecrets(key, key.rotatedAt)).toEqual(['whsec_new', 'whsec_old']);
    expect(signingSecrets(key, key.rotatedAt + ROTATION_OVERLAP_MS - 1)).toEqual(['whsec_new', 'whsec_old']);
    expect(signingSecrets(key, key.rotatedAt + ROTATION_OVERLAP_MS)).toEqual(['whsec_new']);
    expect(signingSecrets({ secret: 'whsec_new', previous: null, rotatedAt: null }, 5)).toEqual(['whsec_new']);
    expect(signatureHeader(['whsec_new', 'whsec_old'], '{}', 1_700_000_000)).toMatch(
      /^t=1700000000,v1=[0-9a-f]{64},v1=[0-9a-f]{64}$/,
    );
  });

  test("the README's verifier accepts a header with two v1 values by either secret, and no other", async () => {
    const readme = readFileSync(join(import.meta.dir, '../../README.md'), 'utf8');
    const block = /```ts\n(import \{ createHmac, timingSafeEqual \}[\s\S]*?)\n```/.exec(readme)?.[1];
    expect(block).toBeDefined();
    const fn = block!.slice(0, block!.indexOf('\nBun.serve('));
    const dir = mkdtempSync(join(tmpdir(), 'mjgw-readme-'));
    try {
      writeFileSync(join(dir, 'verify.ts'), fn);
      const { verifyMjSignature } = (await import(join(dir, 'verify.ts'))) as {
        verifyMjSignature: (s: string, h: string, b: string) => boolean;
      };
      const body = '{"id":"1","status":"SUCCESS"}';
      const header = signatureHeader(['whsec_new', 'whsec_old'], body, Date.now() / 1000);
      expect(verifyMjSignature('whsec_new', header, body)).toBe(true);
      expect(verifyMjSignature('whsec_old', header, body)).toBe(true);
      expect(verifyMjSignature('whsec_other', header, body)).toBe(false);
      expect(verifyMjSignature('whsec_old', header, `${body} `)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
