import { describe, expect, test } from 'bun:test';
import { storableText } from '../../src/domain/bounds.ts';
import { parseUpstreamTask } from '../../src/domain/task-sync-normalise.ts';
import { boundUpstreamNumber, createWarnOnce, previewValue } from '../../src/domain/upstream-numbers.ts';

/** SPEC §10: every number from an upstream is brought into its column's range before it is stored. */

describe('boundUpstreamNumber', () => {
  test('times: whole numbers from 0 to 2^53−1, or their decimal text, are kept', () => {
    for (const [v, want] of [
      [0, 0],
      [1_712_345_680_000, 1_712_345_680_000],
      ['1712345680000', 1_712_345_680_000],
      ['0001', 1],
      [Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
      [-0, 0],
    ] as const) {
      expect(boundUpstreamNumber(v, 'time')).toEqual({ value: want, ok: true });
    }
    expect(Object.is(boundUpstreamNumber(-0, 'time').value, 0)).toBe(true);
  });

  test('times: anything else falls back to 0 (or the given fallback)', () => {
    const hostile: unknown[] = [
      1e308,
      -1e300,
      '99999999999999999999999',
      '-1e300',
      '1e308',
      1.5,
      1_712_345_680_000.5,
      -1,
      '-1',
      Number.NaN,
      Infinity,
      -Infinity,
      'NaN',
      'Infinity',
      '',
      ' 1',
      '1 ',
      '1.0',
      '0x10',
      'soon',
      true,
      false,
      {},
      [],
      [1],
      null,
      Number.MAX_SAFE_INTEGER + 1,
      2 ** 63,
      '9223372036854775807',
      10n,
    ];
    for (const v of hostile) expect(boundUpstreamNumber(v, 'time')).toEqual({ value: 0, ok: false });
    expect(boundUpstreamNumber(1e308, 'time', 42)).toEqual({ value: 42, ok: false });
  });

  test('int4 (the submit code): −2^31..2^31−1', () => {
    for (const v of [1, 21, 22, 0, -1, 2_147_483_647, -2_147_483_648, '3'])
      expect(boundUpstreamNumber(v, 'int4').ok).toBe(true);
    for (const v of [2_147_483_648, -2_147_483_649, 1e20, -1e20, 1.5, '2147483648', true]) {
      expect(boundUpstreamNumber(v, 'int4')).toEqual({ value: 0, ok: false });
    }
  });
});

describe('upstream items', () => {
  test('hostile times fall back to 0 field by field; the item and its other fields are kept', () => {
    const p = parseUpstreamTask({
      id: 'mj-1',
      status: 'SUCCESS',
      progress: '100%',
      startTime: 1e308,
      finishTime: '99999999999999999999999',
      imageUrl: 'http://i/1.png',
    });
    if (!p.ok) throw new Error(p.reason);
    expect(p.task).toMatchObject({
      status: 'SUCCESS',
      progress: '100%',
      startTime: 0,
      finishTime: 0,
      imageUrl: 'http://i/1.png',
    });
    expect(p.fellBack.map((f) => f.field)).toEqual(['startTime', 'finishTime']);
    for (const v of [-1e300, 1.5, 'NaN', true, {}, []]) {
      const q = parseUpstreamTask({ id: 'mj-2', status: 'IN_PROGRESS', startTime: v });
      expect(q.ok && [q.task.startTime, q.fellBack.length]).toEqual([0, 1]);
    }
    // Absent and null keep their meaning (keep ours / empty), and are not warnings.
    const r = parseUpstreamTask({ id: 'mj-3', status: 'IN_PROGRESS', startTime: null });
    expect(r.ok && [r.task.startTime, r.task.finishTime, r.fellBack]).toEqual([null, undefined, []]);
  });
});

describe('warn once', () => {
  test('one line per key, whatever the upstream repeats; the memory is bounded', () => {
    const lines: unknown[] = [];
    const warn = createWarnOnce({ warn: (msg, fields) => lines.push({ msg, ...fields }) }, 3);
    for (let i = 0; i < 100; i++) warn('startTime:1', 'm', { i });
    warn('finishTime:1', 'm', {});
    expect(lines).toHaveLength(2);
    warn('startTime:2', 'm', {});
    warn('code:2', 'm', {});
    // Past the bound it forgets and starts again, rather than growing.
    warn('startTime:1', 'm', {});
    expect(lines).toHaveLength(5);
  });

  test('a logged value is short, whatever its size', () => {
    expect(previewValue(1e308)).toBe('number 1e+308');
    expect(previewValue({})).toBe('object {}');
    expect(previewValue('x'.repeat(10_000)).length).toBeLessThan(80);
  });
});

describe('storable text', () => {
  test('U+0000 is dropped and a lone surrogate becomes U+FFFD, as both databases would store it', () => {
    expect(storableText('a\u0000b\u0000')).toBe('ab');
    expect(storableText('x\ud800y')).toBe('x\ufffdy');
    expect(storableText('😀 ok')).toBe('😀 ok');
    const p = parseUpstreamTask({ id: 'mj-1', status: 'SUC\u0000CESS', failReason: '\u0000', promptEn: 'a\udc00' });
    expect(p.ok && [p.task.status, p.task.failReason, p.task.promptEn]).toEqual(['SUCCESS', '', 'a\ufffd']);
  });
});
