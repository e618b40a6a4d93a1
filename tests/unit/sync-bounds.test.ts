import { describe, expect, test } from 'bun:test';
import type { TaskRow } from '../../src/contract/rows.ts';
import { boundText, fitFields, MAX_JSON_CHARS, MAX_TEXT_CHARS, MAX_URL_CHARS } from '../../src/domain/bounds.ts';
import { decideSync, normaliseVideoUrls, parseUpstreamTask } from '../../src/domain/task-sync-normalise.ts';

const NOW = 1_790_000_000_000;

function row(over: Partial<TaskRow> = {}): TaskRow {
  return {
    id: 1,
    userId: 2,
    tokenId: 0,
    channelId: 1,
    code: 1,
    action: 'IMAGINE',
    mjId: '1790000000000001',
    prompt: 'cat',
    promptEn: '',
    description: 'Submit success',
    state: '',
    submitTime: NOW - 5000,
    startTime: 0,
    finishTime: 0,
    imageUrl: '',
    videoUrl: '',
    videoUrls: '',
    status: '',
    progress: '0%',
    failReason: '',
    quota: 50000,
    buttons: '',
    properties: '',
    updatedTime: 0,
    ...over,
  };
}

function upstream(over: Record<string, unknown>) {
  const parsed = parseUpstreamTask({ id: '1790000000000001', status: 'IN_PROGRESS', progress: '15%', ...over });
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.task;
}

describe('the poller cuts what the upstream sends before it is stored (SPEC §10)', () => {
  test('text to 8192, JSON over 64 KiB and URLs over 2048 dropped, short words to 64', () => {
    const d = decideSync(
      row(),
      upstream({
        promptEn: 'e'.repeat(3_000_000),
        state: 's'.repeat(10_000),
        imageUrl: `https://cdn/${'i'.repeat(MAX_URL_CHARS)}`,
        videoUrl: 'v'.repeat(5000),
        buttons: [{ customId: 'c'.repeat(MAX_JSON_CHARS) }],
        properties: { p: 'p'.repeat(MAX_JSON_CHARS) },
        progress: '9'.repeat(1000),
      }),
      NOW,
    );
    if (d.kind !== 'update') throw new Error(d.kind);
    expect(d.fields.promptEn).toBe('e'.repeat(MAX_TEXT_CHARS));
    expect(d.fields.state).toHaveLength(MAX_TEXT_CHARS);
    expect(d.fields.imageUrl).toBe('');
    expect(d.fields.videoUrl).toBe('');
    expect(d.fields.buttons).toBe('');
    expect(d.fields.properties).toBe('');
    expect(d.fields.progress).toHaveLength(64);
  });

  test('a failure reason is cut too, and a bounded value compares equal on the next tick', () => {
    const d = decideSync(row(), upstream({ status: 'FAILURE', failReason: 'r'.repeat(100_000) }), NOW);
    expect(d.kind).toBe('fail');
    if (d.kind !== 'fail') return;
    expect(d.fields.failReason).toHaveLength(MAX_TEXT_CHARS);
    const stored = row({ promptEn: 'e'.repeat(MAX_TEXT_CHARS), progress: '15%', status: 'IN_PROGRESS' });
    expect(decideSync(stored, upstream({ promptEn: 'e'.repeat(50_000) }), NOW).kind).toBe('unchanged');
  });

  test('video_urls: oversize URLs dropped one by one, the whole array within 64 KiB', () => {
    expect(normaliseVideoUrls([{ url: 'u'.repeat(MAX_URL_CHARS + 1) }, { url: 'https://x/1.mp4' }])).toBe(
      '["https://x/1.mp4"]',
    );
    const many = Array.from({ length: 100 }, (_, i) => ({ url: `https://x/${i}/${'a'.repeat(1000)}` }));
    expect(normaliseVideoUrls(many)).toBe('');
  });
});

describe('bound helpers', () => {
  test('boundText never splits a surrogate pair', () => {
    expect(boundText('ab😀', 3)).toBe('ab');
    expect(boundText('ab😀', 4)).toBe('ab😀');
  });

  test("fitFields applies each field's own bound even when the item is far under budget", () => {
    const item = fitFields({ u: `https://x/${'a'.repeat(MAX_URL_CHARS)}`, t: 'ok' }, [
      ['u', 'url'],
      ['t', 'text'],
    ]);
    expect(item).toEqual({ u: '', t: 'ok' });
  });

  test('fitFields keeps the budget in JSON bytes, cutting text and dropping JSON that does not fit', () => {
    const item = { a: 'x'.repeat(100), b: '"'.repeat(100), c: JSON.stringify({ k: 'v'.repeat(50) }) };
    fitFields(
      item,
      [
        ['a', 'text'],
        ['b', 'text'],
        ['c', 'json'],
      ],
      200,
    );
    const bytes = Object.values(item).reduce((n, v) => n + Buffer.byteLength(JSON.stringify(v)), 0);
    expect(bytes).toBeLessThanOrEqual(200);
    expect(item.a).toBe('x'.repeat(100));
    expect(item.b.length).toBeGreaterThan(0);
    expect(item.c).toBe('');
  });
});
