import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import sharp from 'sharp';
import { ManualClock } from '../../src/lib/clock.ts';
import { type Simulator, startSimulator } from '../../src/simulator/index.ts';
import { submitToSimulator } from '../helpers/simulator.ts';

/**
 * SIM_IMAGE_SIZE=2048 (SPEC §18): the simulator's final grids are full-size PNGs that weigh what
 * Midjourney's do (several MB: fine grain, not a flat gradient), drawn once and then served from
 * memory, four distinct quadrants each.
 */

const SECRET = 'full-size-secret';
const clock = new ManualClock(1_790_000_000_000);
let sim: Simulator;

beforeAll(async () => {
  sim = await startSimulator({ secret: SECRET, clock, stepMs: 1000, imageSize: 2048 });
});

afterAll(async () => {
  await sim.stop();
});

describe('simulator full-size grids', () => {
  test('a finished imagine is a 2048×2048 PNG of several MB with four distinct quadrants, drawn once', async () => {
    const id = await submitToSimulator(sim, SECRET, 'a full-size harbour');
    clock.advance(12_000);
    const res = await fetch(`${sim.url}/mj/task/${id}/fetch`, { headers: { 'mj-api-secret': SECRET } });
    const view = (await res.json()) as { status: string; imageUrl: string };
    expect(view.status).toBe('SUCCESS');
    const first = await fetch(view.imageUrl);
    const png = new Uint8Array(await first.arrayBuffer());
    const meta = await sharp(png).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 2048, 2048]);
    expect(png.byteLength).toBeGreaterThan(4 * 1024 * 1024);
    expect(png.byteLength).toBeLessThan(12 * 1024 * 1024);
    const means = new Set<string>();
    for (const [left, top] of [
      [0, 0],
      [1024, 0],
      [0, 1024],
      [1024, 1024],
    ] as const) {
      // stats() reads its input, not the pipeline's output: cut the quadrant out first.
      const quadrant = await sharp(png).extract({ left, top, width: 1024, height: 1024 }).png().toBuffer();
      const stats = await sharp(quadrant).stats();
      means.add(stats.channels.map((c) => Math.round(c.mean)).join(','));
    }
    expect(means.size).toBe(4);
    // Served again from memory: the same representation, byte for byte.
    const again = await fetch(view.imageUrl);
    expect(again.headers.get('etag')).toBe(first.headers.get('etag'));
    expect(Bun.hash(new Uint8Array(await again.arrayBuffer()))).toBe(Bun.hash(png));
  });
});
