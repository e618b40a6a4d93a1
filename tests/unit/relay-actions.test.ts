import { describe, expect, test } from 'bun:test';
import type { TaskRow } from '../../src/contract/rows.ts';
import { createSqliteStore } from '../../src/db/sqlite/store.ts';
import { AppError } from '../../src/domain/errors.ts';
import { OptionsStore } from '../../src/domain/options.ts';
import { actionOfCustomId, parseSimpleChange } from '../../src/domain/relay/actions.ts';
import { clearModeFlags, filterForwardBody } from '../../src/domain/relay/plan.ts';
import { relayTaskView } from '../../src/domain/relay/queries.ts';
import { parseSubmitBody } from '../../src/domain/relay/schemas.ts';
import { memoryDb } from '../helpers/db.ts';

const H = '3dbbd469-36af-4a0f-8f02-df6c579e7011';

function badRequest(run: () => unknown): string {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).kind).toBe('BAD_REQUEST');
    return (err as AppError).message;
  }
  throw new Error('expected a BAD_REQUEST');
}

describe('customId → action (SPEC §7.2 step 2)', () => {
  const table: [string, string, number | null][] = [
    [`MJ::JOB::upsample::1::${H}`, 'UPSCALE', 1],
    [`MJ::JOB::upsample::4::${H}`, 'UPSCALE', 4],
    [`MJ::JOB::upsample_v7_2x_subtle::1::${H}::SOLO`, 'UPSCALE', null],
    [`MJ::JOB::video_virtual_upscale::2::${H}`, 'UPSCALE', null],
    [`MJ::JOB::variation::3::${H}`, 'VARIATION', 3],
    [`MJ::JOB::low_variation::1::${H}::SOLO`, 'LOW_VARIATION', null],
    [`MJ::JOB::high_variation::1::${H}::SOLO`, 'HIGH_VARIATION', null],
    [`MJ::JOB::pan_left::1::${H}::SOLO`, 'PAN', null],
    [`MJ::JOB::pan_down::1::${H}::SOLO`, 'PAN', null],
    [`MJ::JOB::reroll::0::${H}::SOLO`, 'REROLL', null],
    [`MJ::Outpaint::50::1::${H}::SOLO`, 'ZOOM', null],
    [`MJ::CustomZoom::${H}`, 'CUSTOM_ZOOM', null],
    [`MJ::Inpaint::1::${H}::SOLO`, 'INPAINT', null],
    [`MJ::JOB::animate_high::1::${H}::SOLO`, 'VIDEO', null],
    [`  MJ::JOB::upsample::2::${H}  `, 'UPSCALE', 2],
  ];
  for (const [id, action, index] of table) {
    test(`${id.trim()} → ${action}`, () => {
      expect(actionOfCustomId(id)).toEqual({ action: action as never, index });
    });
  }

  test('malformed or unknown customIds are a 400 naming customId, never a crash', () => {
    const bad = [
      '',
      'garbage',
      'MJ',
      'MJ::',
      'MJ::JOB',
      'MJ::JOB::',
      '::::',
      'mj::JOB::upsample::1::h',
      'MJ::JOB::upsample::0::h',
      'MJ::JOB::upsample::5::h',
      'MJ::JOB::upsample::x::h',
      'MJ::JOB::upsample',
      'MJ::JOB::variation::',
      'MJ::BOOKMARK::h',
      'MJ::Job::PicReader::1',
      'MJ::JOB::dance::1::h',
      'MJ::JOB::pan_sideways::1::h',
      '💥::💥::💥',
      'MJ::JOB::upsample::1::h::'.repeat(50),
    ];
    for (const id of bad) expect(badRequest(() => actionOfCustomId(id))).toContain('customId');
  });
});

describe('simple-change content', () => {
  test('U/V/R in either case', () => {
    expect(parseSimpleChange('1712345678901234 U1')).toEqual({
      taskId: '1712345678901234',
      action: 'UPSCALE',
      index: 1,
    });
    expect(parseSimpleChange('  1712345678901234   v4 ')).toEqual({
      taskId: '1712345678901234',
      action: 'VARIATION',
      index: 4,
    });
    expect(parseSimpleChange('1712345678901234 r')).toEqual({
      taskId: '1712345678901234',
      action: 'REROLL',
      index: null,
    });
  });
  test('anything else is a 400 naming content', () => {
    for (const c of ['', '123', '123 U5', '123 U0', '123 X1', '123 U1 extra', 'U1', '123 UU1', '123 R1']) {
      expect(badRequest(() => parseSimpleChange(c))).toContain('content');
    }
  });
});

describe('submit body schemas', () => {
  test('unknown fields are kept; numeric-string index accepted', () => {
    expect(parseSubmitBody('imagine', { prompt: 'x', foo: [1] })).toEqual({ prompt: 'x', foo: [1] } as never);
    expect(parseSubmitBody('change', { taskId: '1', action: 'VARIATION', index: '2' }).index).toBe(2);
    expect(parseSubmitBody('change', { taskId: '1', action: 'REROLL' }).action).toBe('REROLL');
    expect(parseSubmitBody('imagine', { prompt: 'x', notifyHook: null, state: null }).prompt).toBe('x');
  });
  test('messages name the field', () => {
    expect(badRequest(() => parseSubmitBody('imagine', {}))).toBe('prompt is required');
    expect(badRequest(() => parseSubmitBody('imagine', { prompt: 1 }))).toBe('prompt must be a string');
    expect(badRequest(() => parseSubmitBody('imagine', [1]))).toBe('request body must be a JSON object');
    expect(badRequest(() => parseSubmitBody('change', { taskId: '1', action: 'UPSCALE' }))).toContain('index');
    expect(badRequest(() => parseSubmitBody('blend', { base64Array: ['a', 'b', 'c', 'd', 'e', 'f'] }))).toContain(
      'base64Array',
    );
    expect(badRequest(() => parseSubmitBody('action', { taskId: 'x'.repeat(200), customId: 'MJ::a::b' }))).toContain(
      'taskId',
    );
  });
});

describe('forwarding filters', () => {
  test('clearModeFlags removes whole flags only', () => {
    expect(clearModeFlags('cat --fast')).toBe('cat');
    expect(clearModeFlags('--relax cat --ar 1:1 --turbo')).toBe('cat --ar 1:1');
    expect(clearModeFlags('cat --fastest --relaxed')).toBe('cat --fastest --relaxed');
  });
  test('filterForwardBody follows the options and never mutates its input', async () => {
    const options = await OptionsStore.bootstrap(createSqliteStore(memoryDb()).options);
    const body = { prompt: 'cat --fast', notifyHook: 'h', accountFilter: { a: 1 } };
    expect(filterForwardBody(body, options)).toEqual({ prompt: 'cat --fast' });
    await options.set('mj_notify_enabled', true);
    await options.set('mj_mode_clear_enabled', true);
    expect(filterForwardBody(body, options)).toEqual({ prompt: 'cat', notifyHook: 'h' });
    expect(body).toEqual({ prompt: 'cat --fast', notifyHook: 'h', accountFilter: { a: 1 } });
  });
});

describe('fetch view of a task row', () => {
  const row = (over: Partial<TaskRow>): TaskRow => ({
    id: 1,
    userId: 1,
    tokenId: 1,
    channelId: 1,
    code: 1,
    action: 'IMAGINE',
    mjId: '1712345678901234',
    prompt: 'p',
    promptEn: 'pe',
    description: 'd',
    state: '',
    submitTime: 1,
    startTime: 2,
    finishTime: 3,
    imageUrl: '',
    videoUrl: '',
    videoUrls: '',
    status: 'SUCCESS',
    progress: '100%',
    failReason: '',
    quota: 0,
    buttons: '',
    properties: '',
    updatedTime: 0,
    ...over,
  });
  const policy = { forward: true, serverAddress: 'https://gw.example' };

  test('image links: forwarded, ?rand only while unfinished, raw when forwarding is off, empty stays empty', () => {
    expect(relayTaskView(row({ imageUrl: 'http://u/x.png' }), policy, 42).imageUrl).toBe(
      'https://gw.example/mj/image/1712345678901234',
    );
    expect(relayTaskView(row({ imageUrl: 'http://u/x.png', status: 'IN_PROGRESS' }), policy, 42).imageUrl).toBe(
      'https://gw.example/mj/image/1712345678901234?rand=42',
    );
    expect(
      relayTaskView(row({ imageUrl: 'http://u/x.png?ex=1', status: 'IN_PROGRESS' }), { ...policy, forward: false }, 42)
        .imageUrl,
    ).toBe('http://u/x.png?ex=1');
    expect(relayTaskView(row({ status: 'IN_PROGRESS' }), policy, 42).imageUrl).toBe('');
  });

  test('progress is never empty; JSON columns become arrays/objects or null', () => {
    const v = relayTaskView(
      row({ progress: '', status: 'FAILURE', videoUrls: '[{"url":"a"},"b",3]', buttons: '{}', properties: '{"x":1}' }),
      policy,
      1,
    );
    expect(v.progress).toBe('0%');
    expect(v.videoUrls).toEqual([{ url: 'a' }, { url: 'b' }]);
    expect(v.buttons).toBeNull();
    expect(v.properties).toEqual({ x: 1 });
    expect(relayTaskView(row({ videoUrls: 'nope', properties: 'null' }), policy, 1)).toMatchObject({
      videoUrls: null,
      properties: null,
    });
  });
});
