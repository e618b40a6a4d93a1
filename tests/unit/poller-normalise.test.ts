import { describe, expect, test } from 'bun:test';
import type { TaskRow } from '../../src/contract/rows.ts';
import {
  decideSync,
  normaliseJsonText,
  normaliseVideoUrls,
  parseUpstreamTask,
  timeoutReason,
  type UpstreamTask,
} from '../../src/domain/task-sync-normalise.ts';

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

function item(over: Partial<Record<keyof UpstreamTask, unknown>> = {}): UpstreamTask {
  const parsed = parseUpstreamTask({ id: '1790000000000001', status: 'IN_PROGRESS', progress: '15%', ...over });
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.task;
}

describe('upstream item validation', () => {
  test('id and status are required; a field of the wrong type falls back alone (SPEC §10)', () => {
    expect(parseUpstreamTask(null).ok).toBe(false);
    expect(parseUpstreamTask([]).ok).toBe(false);
    expect(parseUpstreamTask({ status: 'SUCCESS' }).ok).toBe(false);
    expect(parseUpstreamTask({ id: '', status: 'SUCCESS' }).ok).toBe(false);
    expect(parseUpstreamTask({ id: '1' }).ok).toBe(false);
    const bad = parseUpstreamTask({ id: '1', status: 'SUCCESS', progress: 100, startTime: 'soon', finishTime: 5 });
    expect(bad.ok && bad.task).toMatchObject({ progress: null, startTime: 0, finishTime: 5 });
    expect(bad.ok && bad.fellBack).toEqual([
      { field: 'progress', value: 100, stored: null },
      { field: 'startTime', value: 'soon', stored: 0 },
    ]);
    const ok = parseUpstreamTask({
      id: ' 1 ',
      status: 'SUBMITTED',
      progress: null,
      startTime: '1790000000000',
      finishTime: null,
    });
    expect(ok.ok && ok.task).toMatchObject({ id: '1', progress: null, startTime: 1_790_000_000_000, finishTime: null });
  });
});

describe('column normalisation', () => {
  test('video_urls is a JSON array of URL strings, "" when none', () => {
    expect(normaliseVideoUrls([{ url: 'https://x/1.mp4' }, { url: 'https://x/2.mp4' }])).toBe(
      '["https://x/1.mp4","https://x/2.mp4"]',
    );
    expect(normaliseVideoUrls(['https://x/1.mp4', { nope: 1 }, { url: '' }])).toBe('["https://x/1.mp4"]');
    expect(normaliseVideoUrls(null)).toBe('');
    expect(normaliseVideoUrls([])).toBe('');
    expect(normaliseVideoUrls('https://x/1.mp4')).toBe('');
  });

  test('buttons and properties are JSON text, "" when null or empty', () => {
    expect(normaliseJsonText([{ customId: 'MJ::JOB::upsample::1::h', label: 'U1' }])).toBe(
      '[{"customId":"MJ::JOB::upsample::1::h","label":"U1"}]',
    );
    expect(normaliseJsonText({ finalPrompt: 'cat' })).toBe('{"finalPrompt":"cat"}');
    expect(normaliseJsonText(null)).toBe('');
    expect(normaliseJsonText([])).toBe('');
    expect(normaliseJsonText({})).toBe('');
  });

  test('timeout reason: minutes with at most two decimals', () => {
    expect(timeoutReason(3_600_000)).toBe('upstream task timed out after 60 minutes');
    expect(timeoutReason(30_000)).toBe('upstream task timed out after 0.5 minutes');
    expect(timeoutReason(600)).toBe('upstream task timed out after 0.01 minutes');
    expect(timeoutReason(100_000)).toBe('upstream task timed out after 1.67 minutes');
  });
});

describe('sync decision', () => {
  test('progress and fields changes are written, local submit time is kept', () => {
    const d = decideSync(
      row(),
      item({ promptEn: 'cat', startTime: NOW - 1000, imageUrl: 'http://u/p.png', properties: { finalPrompt: 'cat' } }),
      NOW,
    );
    expect(d.kind).toBe('update');
    if (d.kind !== 'update') return;
    expect(d.fields).toMatchObject({
      progress: '15%',
      status: 'IN_PROGRESS',
      promptEn: 'cat',
      startTime: NOW - 1000,
      imageUrl: 'http://u/p.png',
      properties: '{"finalPrompt":"cat"}',
    });
    expect('submitTime' in d.fields).toBe(false);
  });

  test('nothing changed → unchanged', () => {
    const r = row({ status: 'IN_PROGRESS', progress: '15%' });
    expect(decideSync(r, item(), NOW).kind).toBe('unchanged');
  });

  test('a null or empty progress while unfinished keeps a non-empty value', () => {
    const a = decideSync(row({ progress: '' }), item({ status: 'NOT_START', progress: null }), NOW);
    expect(a.kind === 'update' && a.fields.progress).toBe('0%');
    const b = decideSync(row({ progress: '31%', status: 'IN_PROGRESS' }), item({ progress: '' }), NOW);
    expect(b.kind).toBe('unchanged');
  });

  test('"100%" without a final status does not finish the task', () => {
    const d = decideSync(row({ progress: '93%', status: 'IN_PROGRESS' }), item({ progress: '100%' }), NOW);
    expect(d.kind).toBe('unchanged');
  });

  test('SUCCESS finishes with 100%, buttons and final image', () => {
    const d = decideSync(
      row(),
      item({
        status: 'SUCCESS',
        progress: '100%',
        finishTime: NOW - 10,
        imageUrl: 'http://u/f.png',
        buttons: [{ customId: 'a' }],
        failReason: null,
      }),
      NOW,
    );
    expect(d.kind).toBe('update');
    expect(d.kind === 'update' && d.fields).toMatchObject({
      progress: '100%',
      status: 'SUCCESS',
      finishTime: NOW - 10,
      imageUrl: 'http://u/f.png',
      buttons: '[{"customId":"a"}]',
    });
  });

  test('FAILURE, or a failReason while unfinished, is a final failure that keeps the reason', () => {
    const a = decideSync(
      row(),
      item({ status: 'FAILURE', progress: '', failReason: '[Invalid parameter] x', finishTime: NOW - 5 }),
      NOW,
    );
    expect(a).toEqual({
      kind: 'fail',
      fields: expect.objectContaining({
        status: 'FAILURE',
        progress: '100%',
        failReason: '[Invalid parameter] x',
        finishTime: NOW - 5,
      }),
    });
    const b = decideSync(row(), item({ status: 'IN_PROGRESS', failReason: 'banned' }), NOW);
    expect(b.kind === 'fail' && b.fields.failReason).toBe('banned');
    const c = decideSync(row(), item({ status: 'FAILURE', failReason: null }), NOW);
    expect(c.kind === 'fail' && c.fields).toMatchObject({ failReason: 'upstream task failed', finishTime: NOW });
  });
});
