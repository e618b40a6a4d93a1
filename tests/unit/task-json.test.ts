import { describe, expect, test } from 'bun:test';
import type { TaskRow } from '../../src/contract/rows.ts';
import { MAX_JSON_CHARS } from '../../src/domain/bounds.ts';
import { buttonsOf, propertiesOf } from '../../src/domain/task-json.ts';
import { typedTaskItemSchema } from '../../src/domain/task-views.ts';
import { typedTaskItem } from '../../src/domain/tasks.ts';

/** The stored JSON text as the typed outputs carry it (SPEC §10): parsed, never throwing, bad → empty. */
describe('buttons and properties of typed outputs', () => {
  test('real upstream buttons keep their five fields; other keys are dropped, missing ones filled', () => {
    const text = JSON.stringify([
      { customId: 'MJ::JOB::upsample::1::h', emoji: '', label: 'U1', type: 2, style: 2, extra: { deep: true } },
      { customId: 'MJ::JOB::reroll::0::h::SOLO', emoji: '🔄' },
    ]);
    expect(buttonsOf(text)).toEqual([
      { customId: 'MJ::JOB::upsample::1::h', emoji: '', label: 'U1', type: 2, style: 2 },
      { customId: 'MJ::JOB::reroll::0::h::SOLO', emoji: '🔄', label: '', type: 0, style: 0 },
    ]);
  });

  const bad = ['', ' ', 'null', 'not json', '[', '"[]"', '42', '[null,1,"x",[],{"label":"no id"},{"customId":5}]'];
  for (const text of [...bad, '{"customId":"x"}']) {
    test(`buttons ${JSON.stringify(text)} read as []`, () => expect(buttonsOf(text)).toEqual([]));
  }
  for (const text of bad) {
    test(`properties ${JSON.stringify(text)} read as {}`, () => expect(propertiesOf(text)).toEqual({}));
  }

  test('properties keep every key and value', () => {
    expect(propertiesOf('{"finalPrompt":"a cat","flags":0,"nested":{"a":[1]}}')).toEqual({
      finalPrompt: 'a cat',
      flags: 0,
      nested: { a: [1] },
    });
  });

  test('an item from a row with oversize or deeply nested text still matches the output schema', () => {
    const deep = `{"a":${'['.repeat(20_000)}${']'.repeat(20_000)}}`;
    const row = {
      id: 1,
      userId: 1,
      channelId: 1,
      mjId: 'm',
      action: 'IMAGINE',
      prompt: 'p',
      promptEn: '',
      status: 'SUCCESS',
      progress: '100%',
      imageUrl: '',
      videoUrl: '',
      videoUrls: '',
      submitTime: 1,
      startTime: 1,
      finishTime: 1,
      failReason: '',
      quota: 0,
      code: 1,
      description: '',
      state: '',
      buttons: `[${'{"customId":"x"},'.repeat(MAX_JSON_CHARS / 16)}{"customId":"y"}]`,
      properties: deep,
    } as unknown as TaskRow;
    const item = typedTaskItem(row, { forward: false, serverAddress: '' });
    expect(item.buttons).toEqual([]); // over its bound: dropped as text, so empty once parsed
    expect(Object.keys(item.properties)).toEqual(['a']);
    expect(typedTaskItemSchema.safeParse(item).success).toBe(true);
    expect(() => JSON.stringify(item)).not.toThrow();
  });
});
