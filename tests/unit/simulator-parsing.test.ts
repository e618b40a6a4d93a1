import { describe, expect, test } from 'bun:test';
import { ManualClock } from '../../src/lib/clock.ts';
import { etagMatches, parseRange } from '../../src/lib/http-ranges.ts';
import { parseCustomId } from '../../src/simulator/buttons.ts';
import { phaseOf } from '../../src/simulator/lifecycle.ts';
import { parseFlags } from '../../src/simulator/submit-common.ts';
import { slugify, TaskStore } from '../../src/simulator/task-store.ts';

describe('parseRange', () => {
  test.each([
    ['bytes=0-9', 100, { start: 0, end: 9 }],
    ['bytes=90-', 100, { start: 90, end: 99 }],
    ['bytes=-10', 100, { start: 90, end: 99 }],
    ['bytes=-500', 100, { start: 0, end: 99 }],
    ['bytes=50-500', 100, { start: 50, end: 99 }],
    ['bytes=100-', 100, 'unsatisfiable'],
    ['bytes=-0', 100, 'unsatisfiable'],
    ['bytes=9-1', 100, null],
    ['bytes=0-1,5-6', 100, null],
    ['items=0-1', 100, null],
  ] as const)('%s of %d', (header, size, want) => {
    expect(parseRange(header, size)).toEqual(want);
  });

  test('no header means no range', () => {
    expect(parseRange(null, 10)).toBeNull();
  });
});

test('etagMatches handles lists, weak tags and *', () => {
  expect(etagMatches('"a", W/"b"', '"b"')).toBe(true);
  expect(etagMatches('*', '"x"')).toBe(true);
  expect(etagMatches('"c"', '"b"')).toBe(false);
  expect(etagMatches(null, '"b"')).toBe(false);
});

describe('parseCustomId', () => {
  const h = '3dbbd469-36af-4a0f-8f02-df6c579e7011';
  test.each([
    [`MJ::JOB::upsample::2::${h}`, { kind: 'task', action: 'UPSCALE', modal: false, index: 2 }],
    [`MJ::JOB::variation::3::${h}`, { kind: 'task', action: 'VARIATION', modal: false, index: 3 }],
    [`MJ::JOB::low_variation::1::${h}::SOLO`, { kind: 'task', action: 'VARIATION', modal: false, index: 1 }],
    [`MJ::JOB::high_variation::1::${h}::SOLO`, { kind: 'task', action: 'VARIATION', modal: false, index: 1 }],
    [`MJ::JOB::pan_left::1::${h}::SOLO`, { kind: 'task', action: 'PAN', modal: false, index: 1 }],
    [`MJ::Outpaint::50::1::${h}::SOLO`, { kind: 'task', action: 'ZOOM', modal: false, index: 1 }],
    [`MJ::CustomZoom::${h}`, { kind: 'task', action: 'ZOOM', modal: true, index: null }],
    [`MJ::Inpaint::1::${h}::SOLO`, { kind: 'task', action: 'VARIATION', modal: true, index: 1 }],
    [`MJ::JOB::upsample_v7_2x_subtle::1::${h}::SOLO`, { kind: 'task', action: 'UPSCALE_HD', modal: false, index: 1 }],
    [`MJ::JOB::reroll::0::${h}::SOLO`, { kind: 'reroll' }],
    [`MJ::BOOKMARK::${h}`, { kind: 'bookmark' }],
    ['MJ::Nope::1', null],
  ] as const)('%s', (customId, want) => {
    expect(parseCustomId(customId)).toEqual(want);
  });
});

test('parseFlags finds flags anywhere and only as whole words', () => {
  expect(parseFlags('cat --sim-queued --v 6')).toMatchObject({ queued: true, queueFull: false });
  expect(parseFlags('--sim-queue-full cat')).toMatchObject({ queued: false, queueFull: true });
  expect(parseFlags('cat --sim-code=9').code).toBe(9);
  expect(parseFlags('cat --sim-failure')).toMatchObject({ fail: false });
  expect(parseFlags(null).code).toBeNull();
});

test('slugify keeps words, drops flags and URLs', () => {
  expect(slugify('A red fox! --ar 16:9 --sim-fail https://x.y/z.png')).toBe('A_red_fox');
  expect(slugify('猫猫')).toBe('image');
});

test('phaseOf walks the lifecycle; stepMs 0 finishes at once', () => {
  const clock = new ManualClock(1_790_000_000_000);
  const store = new TaskStore(clock, 10, () => 0);
  const task = store.create({ action: 'DESCRIBE', prompt: '', description: '/describe' });
  const at = (ms: number) => phaseOf(task, task.submitTime + ms, 100).status;
  expect([at(0), at(100), at(200), at(300)]).toEqual(['NOT_START', 'SUBMITTED', 'IN_PROGRESS', 'SUCCESS']);
  expect(phaseOf(task, task.submitTime, 0)).toMatchObject({ status: 'SUCCESS', progress: '100%' });
});

test('the store drops the oldest task past its cap and ids stay unique', () => {
  const clock = new ManualClock(1_790_000_000_000);
  const store = new TaskStore(clock, 3, () => 0);
  const ids = Array.from(
    { length: 2500 },
    (_, i) => store.create({ action: 'IMAGINE', prompt: `p${i}`, description: '' }).id,
  );
  expect(new Set(ids).size).toBe(2500);
  expect(ids.every((id) => /^\d{16}$/.test(id))).toBe(true);
  expect(store.size).toBe(3);
  expect(store.get(ids[0] ?? '')).toBeUndefined();
  expect(store.latest(10).map((t) => t.id)).toEqual(ids.slice(-3).reverse());
});
