import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page, Response } from 'playwright-core';
import type { TestUser } from '../helpers/factories.ts';
import { addApiKey, addUser } from '../helpers/rows.ts';
import { type DashboardHarness, startDashboardHarness, taskStatus, waitFor } from './harness.ts';

/**
 * What the dashboard moves in images (SPEC §18) with the simulator serving full-size 2048×2048
 * PNG grids (~7.7 MB each): a page of 20 finished tasks with renditions (w=128 thumbnails), then
 * one task's detail (w=1024 and the four quadrants above U1–U4), under 1 MB of images; and the same
 * page with every image asked for as the original, the weight the dashboard had before.
 */

const TASKS = 20;
const MB = 1024 * 1024;
/** Chromium and 20 full-size grids drawn by the in-process simulator (~1 s each idle) on a busy 2-core machine. */
const BUDGET = 420_000;
const STEP_MS = 120_000;
const SHOTS = join(import.meta.dir, '../../.tmp');
let h: DashboardHarness;
let ada: TestUser & { key: Record<string, string> };
const ids: string[] = [];

/** Image bytes that reached the page (body and headers as sent), counted per response as it finishes. */
function countImages(page: Page): { bytes: () => Promise<number>; urls: string[] } {
  const pending: Array<Promise<number>> = [];
  const urls: string[] = [];
  page.on('response', (res: Response) => {
    if (!res.url().includes('/mj/image/')) return;
    urls.push(res.url());
    pending.push(
      res
        .finished()
        .then(() => res.request().sizes())
        .then((s) => s.responseBodySize + s.responseHeadersSize),
    );
  });
  return { urls, bytes: async () => (await Promise.all(pending)).reduce((a, b) => a + b, 0) };
}

/** Waits until every <img> matching `selector` has loaded (there are `count` of them). */
async function imagesLoaded(page: Page, selector: string, count: number): Promise<void> {
  await page
    .waitForFunction(
      ([sel, n]) => {
        const imgs = [...document.querySelectorAll<HTMLImageElement>(sel as string)];
        return imgs.length === n && imgs.every((i) => i.complete && i.naturalWidth > 0);
      },
      [selector, count] as const,
      { timeout: STEP_MS },
    )
    .catch(async (err: Error) => {
      const states = await page.$$eval(selector, (imgs) =>
        imgs.map((i) => {
          const img = i as HTMLImageElement;
          return `${img.src.replace(/^.*\/mj\/image\//, '')}: ${img.complete ? `complete ${img.naturalWidth}px` : 'loading'}`;
        }),
      );
      throw new Error(`${err.message}; images: ${states.join(', ')}`);
    });
}

async function openTable(page: Page): Promise<void> {
  // Tall enough that no thumbnail of the 20 waits for a scroll (they load lazily).
  await page.setViewportSize({ width: 1280, height: 2400 });
  await h.signIn(page, ada);
  await imagesLoaded(page, 'img.thumb', TASKS);
}

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  h = await startDashboardHarness({ channelName: 'sim-full-size', imageSize: 2048 });
  const u = await addUser(h.srv.handle, { quota: 50_000_000, username: 'ada' });
  ada = { ...u, key: (await addApiKey(h.srv.handle, u.id)).headers };
  for (let i = 0; i < TASKS; i++) ids.push(await h.relayImagine(ada.key, `a full-size scene number ${i + 1}`));
  h.simClock.advance(60_000);
  for (const id of ids)
    await waitFor(async () => (await taskStatus(h.srv, id)) === 'SUCCESS', `task ${id} finished`, STEP_MS);
  // The simulator draws each 2048² grid once, on its first request: drawn here, so the page below
  // waits only for the gateway (fetching each original, storing it and making its renditions).
  const urls = await h.srv.sql<{ image_url: string }>('SELECT image_url FROM tasks WHERE status = $1', 'SUCCESS');
  for (const { image_url } of urls) await (await fetch(image_url)).arrayBuffer();
}, BUDGET);

afterAll(async () => {
  await h?.stop();
}, BUDGET);

describe('dashboard image weight', () => {
  const weights: Record<string, number> = {};

  test(
    'a page of 20 finished 2048² grids and one detail move under 1 MB of images with renditions',
    async () => {
      const page = await h.openPage();
      const seen = countImages(page);
      await openTable(page);
      weights.table = await seen.bytes();
      expect(seen.urls.length).toBe(TASKS);
      expect(seen.urls.every((u) => u.includes('w=128'))).toBe(true);
      await page.screenshot({ path: join(SHOTS, 'image-weight-table.png') });
      await page.setViewportSize({ width: 1280, height: 1000 });
      const id = ids[TASKS - 1] ?? '';
      await page.getByRole('link', { name: id, exact: true }).click();
      const dialog = page.getByRole('dialog');
      await dialog.getByRole('button', { name: 'U1', exact: true }).waitFor();
      await imagesLoaded(page, 'dialog img', 5);
      weights.withDetail = await seen.bytes();
      // The four quadrants, each above its own U and V buttons.
      for (const part of [1, 2, 3, 4]) {
        const figure = dialog
          .getByRole('figure')
          .filter({ has: page.getByAltText(`Quadrant ${part} of the grid of task ${id}`) });
        expect(await figure.getByRole('button', { name: `U${part}`, exact: true }).count()).toBe(1);
        expect(await figure.getByRole('button', { name: `V${part}`, exact: true }).count()).toBe(1);
      }
      const sizes = await page.$$eval('dialog img', (imgs) => imgs.map((i) => (i as HTMLImageElement).naturalWidth));
      expect(sizes).toEqual([1024, 256, 256, 256, 256]);
      await page.screenshot({ path: join(SHOTS, 'image-weight-detail.png') });
      // On a phone the quadrants sit as the grid lays them out, 1 2 over 3 4.
      await page.setViewportSize({ width: 375, height: 812 });
      await dialog.getByRole('figure').first().scrollIntoViewIfNeeded();
      await page.screenshot({ path: join(SHOTS, 'image-weight-detail-375.png') });
      expect(weights.table).toBeLessThan(MB);
      expect(weights.withDetail).toBeLessThan(MB);
      expect(h.problems).toEqual([]);
      await page.close();
    },
    BUDGET,
  );

  test(
    'the same page with the originals (the weight before renditions), for the record',
    async () => {
      const page = await h.openPage();
      // Every image as the original: what the dashboard asked for before SPEC §18.
      await page.route('**/mj/image/**', (route) => {
        const url = new URL(route.request().url());
        url.searchParams.delete('w');
        url.searchParams.delete('part');
        return route.continue({ url: url.toString() });
      });
      const seen = countImages(page);
      await openTable(page);
      weights.originals = await seen.bytes();
      expect(seen.urls.length).toBe(TASKS);
      expect(weights.originals).toBeGreaterThan(TASKS * 4 * MB);
      const record = {
        tasks: TASKS,
        table_bytes_with_renditions: weights.table,
        table_and_detail_bytes_with_renditions: weights.withDetail,
        table_bytes_with_originals: weights.originals,
      };
      console.log(`image weight: ${JSON.stringify(record)}`);
      writeFileSync(join(SHOTS, 'image-weight.json'), `${JSON.stringify(record, null, 2)}\n`);
      await page.close();
    },
    BUDGET,
  );
});
