import { describe, expect, test } from 'bun:test';
import { parseRenditionQuery, renditionKey, snapWidth } from '../../src/images/rendition.ts';
import { Semaphore } from '../../src/images/semaphore.ts';

const q = (s: string) => parseRenditionQuery(new URLSearchParams(s));

describe('rendition query (SPEC §18)', () => {
  test('w snaps up to the nearest of 128, 256, 512, 1024', () => {
    expect([64, 128, 129, 256, 257, 512, 513, 1024].map(snapWidth)).toEqual([128, 128, 256, 256, 512, 512, 1024, 1024]);
  });

  test('w and part parse, alone or together; neither is the original', () => {
    expect(q('')).toEqual({ kind: 'none' });
    expect(q('v=100%25')).toEqual({ kind: 'none' });
    expect(q('w=200')).toEqual({ kind: 'spec', spec: { width: 256, part: null } });
    expect(q('part=3')).toEqual({ kind: 'spec', spec: { width: null, part: 3 } });
    expect(q('part=4&w=64&v=1')).toEqual({ kind: 'spec', spec: { width: 128, part: 4 } });
  });

  test('anything else names the parameter', () => {
    for (const bad of ['w=63', 'w=1025', 'w=', 'w=0x80', 'w=1e3', 'w=+128', 'w=128&w=128', 'w=%20128'])
      expect(q(bad)).toMatchObject({ kind: 'invalid', param: 'w' });
    for (const bad of ['part=', 'part=0', 'part=5', 'part=01', 'part=1&part=2', 'part=x'])
      expect(q(bad)).toMatchObject({ kind: 'invalid', param: 'part' });
  });

  test('store keys are derived from the mj_id and never equal an mj_id', () => {
    expect(renditionKey('1900', { width: 128, part: null })).toBe('1900~w128');
    expect(renditionKey('1900', { width: 256, part: 2 })).toBe('1900~p2w256');
    expect(renditionKey('1900', { width: null, part: 3 })).toBe('1900~p3');
  });

  test('the semaphore lets at most its slots through, in arrival order', async () => {
    const s = new Semaphore(2);
    const order: number[] = [];
    const a = await s.acquire();
    const b = await s.acquire();
    const waiting = [1, 2, 3].map((i) =>
      s.acquire().then((release) => {
        order.push(i);
        return release;
      }),
    );
    expect(s.queued).toBe(3);
    a();
    a(); // a second call is a no-op, not a second slot
    const first = await waiting[0];
    expect(order).toEqual([1]);
    b();
    await waiting[1];
    expect(order).toEqual([1, 2]);
    first?.();
    await waiting[2];
    expect(order).toEqual([1, 2, 3]);
  });
});
