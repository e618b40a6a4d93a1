import { describe, expect, test } from 'bun:test';
import { buttonsFor } from '../../src/simulator/buttons.ts';
import type { TaskAction } from '../../src/simulator/types.ts';
import { buttonName } from '../../src/web/button-names.ts';

/** Every button the simulator (like the upstream) sends gets a name a screen reader can say. */

const ACTIONS: TaskAction[] = [
  'IMAGINE',
  'UPSCALE',
  'UPSCALE_HD',
  'VARIATION',
  'REROLL',
  'DESCRIBE',
  'BLEND',
  'SHORTEN',
  'PAN',
  'ZOOM',
  'VIDEO',
  'EDIT',
  'SWAP_FACE',
];

describe('follow-up button names', () => {
  test('emoji-only buttons are named from their customId; worded labels stand as they are', () => {
    const named = new Map<string, string>();
    for (const action of ACTIONS) {
      for (const b of buttonsFor(action, 'abc123')) {
        const shown = b.label || b.emoji;
        const name = buttonName({ customId: b.customId, label: shown, emoji: b.emoji }) ?? shown;
        expect({ customId: b.customId, words: /[\p{L}\p{N}]/u.test(name) }).toEqual({
          customId: b.customId,
          words: true,
        });
        if (!b.label) named.set(b.emoji + b.customId.split('::').slice(0, 3).join('::'), name);
      }
    }
    expect(Object.fromEntries(named)).toEqual({
      '🔄MJ::JOB::reroll': 'Reroll',
      '🔄MJ::Picread::Retry': 'Retry',
      '⬅️MJ::JOB::pan_left': 'Pan left',
      '➡️MJ::JOB::pan_right': 'Pan right',
      '⬆️MJ::JOB::pan_up': 'Pan up',
      '⬇️MJ::JOB::pan_down': 'Pan down',
    });
    expect(buttonName({ customId: 'MJ::JOB::upsample::1::abc123', label: 'U1' })).toBeUndefined();
    // A label-less button the table does not know still says what its customId does.
    expect(buttonName({ customId: 'MJ::JOB::animate_high::1::abc123::SOLO', label: '', emoji: '🎞️' })).toBe(
      'Animate high',
    );
  });
});
