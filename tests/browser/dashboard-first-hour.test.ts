import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import type { Page } from 'playwright-core';
import type { TestUser } from '../helpers/factories.ts';
import { addApiKey, addUser } from '../helpers/rows.ts';
import { ROOT_TOKEN } from '../helpers/server.ts';
import { type DashboardHarness, startDashboardHarness, taskStatus, waitFor } from './harness.ts';

/**
 * The dashboard as a new user met it (issue 14, point 15), at 1280 px and 375 px: empty filters,
 * refused filters, names instead of ids, the header, emoji-only buttons, steady columns.
 */

const BUDGET = 45_000;
/** A deadline for the poller and the live feed on a busy machine, not a speed assertion. */
const STEP_MS = 25_000;
const WIDTHS = [1280, 375] as const;

let h: DashboardHarness;
let ada: TestUser & { key: Record<string, string> };
let admin: TestUser;
/** A finished imagine of ada's. */
let doneId: string;

const rowOf = (page: Page, mjId: string) =>
  page.getByRole('row').filter({ has: page.getByRole('link', { name: mjId, exact: true }) });
const statusIn = (page: Page, mjId: string) => rowOf(page, mjId).locator('td[data-label="Status"]').innerText();
const shot = (page: Page, name: string) => page.screenshot({ path: `/tmp/dash-${name}.png`, fullPage: true });

/** Waits for the live feed to show `status` in the task's row; a timeout says what page and database held. */
async function waitForRowStatus(page: Page, mjId: string, status: string): Promise<void> {
  let shown = '(no row)';
  await waitFor(
    async () => {
      shown = (await rowOf(page, mjId).count()) === 1 ? await statusIn(page, mjId) : '(no row)';
      return shown === status;
    },
    `the row of ${mjId} at ${status}`,
    STEP_MS,
  ).catch(async (err: Error) =>
    Promise.reject(new Error(`${err.message}: the page shows ${shown}, the database ${await taskStatus(h.srv, mjId)}`)),
  );
}

async function applyFilters(page: Page, fields: Record<string, string>): Promise<void> {
  await page.getByRole('button', { name: 'Reset' }).click();
  for (const [label, value] of Object.entries(fields)) await page.getByLabel(label, { exact: true }).fill(value);
  await page.getByRole('button', { name: 'Apply' }).click();
}

/** Elements whose box reaches past the viewport's right edge (what makes a phone scroll sideways). */
function overflowing(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const out: string[] = [];
    for (const el of document.body.querySelectorAll('*')) {
      const r = el.getBoundingClientRect();
      if (r.width > 0 && r.right > window.innerWidth + 0.5)
        out.push(`${el.tagName.toLowerCase()}.${el.className} right=${r.right}`);
    }
    return out;
  });
}

const tableFits = (page: Page) => page.locator('.table-wrap').evaluate((w) => w.scrollWidth <= w.clientWidth);

/**
 * A date input's text lives in Chrome's shadow fields, so its scrollWidth never grows: instead a
 * twin sized to its content (`field-sizing: content`) says how wide the whole value is.
 */
function wholeValueShows(page: Page, label: string): Promise<{ fits: boolean; need: number; have: number }> {
  return page.getByLabel(label, { exact: true }).evaluate((el: HTMLInputElement) => {
    const twin = el.cloneNode() as HTMLInputElement;
    twin.value = el.value;
    Object.assign(twin.style, {
      fieldSizing: 'content',
      width: 'auto',
      minWidth: '0',
      maxWidth: 'none',
      position: 'absolute',
      visibility: 'hidden',
    });
    el.parentElement!.append(twin);
    const need = twin.getBoundingClientRect().width;
    twin.remove();
    const have = el.getBoundingClientRect().width;
    return { fits: el.scrollWidth <= el.clientWidth && need <= have + 0.5, need, have };
  });
}

beforeAll(async () => {
  h = await startDashboardHarness({ channelName: 'sim-east' });
  const u = await addUser(h.srv.handle, { quota: 50_000_000, username: 'ada' });
  await h.srv.sql("UPDATE users SET display_name = 'Ada Lovelace' WHERE id = $1", u.id);
  ada = { ...u, key: (await addApiKey(h.srv.handle, u.id)).headers };
  admin = await addUser(h.srv.handle, { role: 10, username: 'grace' });
  doneId = await h.relayImagine(ada.key, 'a harbour at dusk');
  h.simClock.advance(60_000);
  await waitFor(async () => (await taskStatus(h.srv, doneId)) === 'SUCCESS', 'the first task finished', STEP_MS);
}, 40_000);

afterAll(async () => {
  await h?.stop();
}, BUDGET);

describe('dashboard, the first hour', () => {
  let page: Page;

  test(
    'a filter that matches nothing says so, at 1280 and 375 px',
    async () => {
      page = await h.openPage();
      await h.signIn(page, ada);
      await rowOf(page, doneId).waitFor();
      for (const width of WIDTHS) {
        await page.setViewportSize({ width, height: 860 });
        await applyFilters(page, { 'Task ID': '1000000000000000' });
        await page.getByText('No tasks match these filters').waitFor();
        expect(await page.getByText('No tasks yet').count()).toBe(0);
        expect(await overflowing(page)).toEqual([]);
        await shot(page, `no-match-${width}`);
      }
      await page.getByRole('button', { name: 'Reset' }).click();
      await rowOf(page, doneId).waitFor();
      expect(await page.getByText('No tasks match these filters').count()).toBe(0);
      await page.setViewportSize({ width: 1280, height: 860 });
    },
    BUDGET,
  );

  test(
    'From after To is refused in the words of the form (From, To), and the refused request is sent once',
    async () => {
      for (const width of WIDTHS) {
        await page.setViewportSize({ width, height: 860 });
        const ranged: string[] = [];
        const onRequest = (r: { url(): string }) => {
          const url = decodeURIComponent(r.url());
          if (url.includes('/trpc/') && url.includes('mj.self') && url.includes('"end_timestamp"')) ranged.push(url);
        };
        page.on('request', onRequest);
        await applyFilters(page, { From: `2026-03-0${width === 375 ? 4 : 2}T10:00`, To: '2026-03-01T10:00' });
        const alert = page.getByRole('alert');
        await alert.waitFor();
        const text = await alert.innerText();
        page.off('request', onRequest);
        expect(text).toContain('From must not be after To');
        expect(text).not.toContain('timestamp');
        // TanStack Query shows the error only once its retries are over: a count taken now is final.
        expect(ranged).toHaveLength(1);
        await shot(page, `range-error-${width}`);
      }
      await page.getByRole('button', { name: 'Reset' }).click();
      await page.getByRole('alert').waitFor({ state: 'hidden' });
      await page.setViewportSize({ width: 1280, height: 860 });
    },
    BUDGET,
  );

  test(
    'the header names the user once',
    async () => {
      const banner = page.getByRole('banner');
      await banner.getByText('Ada Lovelace').waitFor();
      expect(await banner.getByText('Ada Lovelace').count()).toBe(1);
      const rootPage = await h.openPage();
      await h.signIn(rootPage, { accessToken: ROOT_TOKEN, id: 1 });
      const rootBanner = rootPage.getByRole('banner');
      await rootBanner.getByText('left').waitFor();
      const text = await rootBanner.innerText();
      await shot(rootPage, 'root-header');
      await rootPage.close();
      expect(text).not.toMatch(/root\s+root/i);
      expect(text).toMatch(/root/i);
    },
    BUDGET,
  );

  test(
    'emoji-only follow-ups have names: Reroll on a grid, Pan left… on an upscale',
    async () => {
      await page.setViewportSize({ width: 1280, height: 860 });
      await page.getByRole('button', { name: 'Reset' }).click();
      await page.getByRole('link', { name: doneId, exact: true }).click();
      const dialog = page.getByRole('dialog');
      await dialog.getByRole('button', { name: 'U1', exact: true }).waitFor();
      expect(await dialog.getByRole('button', { name: 'Reroll', exact: true }).count()).toBe(1);
      await shot(page, 'detail-grid-1280');
      await dialog.getByRole('button', { name: 'U1', exact: true }).click();
      await dialog.getByRole('status').filter({ hasText: 'UPSCALE submitted' }).waitFor();
      await page.keyboard.press('Escape');
      const upscale = await waitFor(
        async () =>
          (await h.srv.sql<{ mj_id: string }>("SELECT mj_id FROM tasks WHERE action = 'UPSCALE' AND mj_id <> ''"))[0],
        'the upscale task',
      );
      h.simClock.advance(60_000);
      await waitFor(
        async () => (await taskStatus(h.srv, upscale.mj_id)) === 'SUCCESS',
        'the upscale finished',
        STEP_MS,
      );
      await waitForRowStatus(page, upscale.mj_id, 'SUCCESS');
      await page.getByRole('link', { name: upscale.mj_id, exact: true }).click();
      await dialog.getByRole('button', { name: 'Vary (Subtle)' }).waitFor();
      for (const name of ['Pan left', 'Pan right', 'Pan up', 'Pan down']) {
        expect(await dialog.getByRole('button', { name, exact: true }).count()).toBe(1);
      }
      await page.setViewportSize({ width: 375, height: 860 });
      await shot(page, 'detail-upscale-375');
      await page.setViewportSize({ width: 1280, height: 860 });
      await page.keyboard.press('Escape');
      await dialog.waitFor({ state: 'hidden' });
    },
    BUDGET,
  );

  test(
    'the columns keep their widths while a task goes SUBMITTED → IN PROGRESS → SUCCESS',
    async () => {
      if (await page.getByRole('dialog').count()) await page.keyboard.press('Escape');
      const mjId = await h.relayImagine(ada.key, 'a kite over the dunes');
      await applyFilters(page, { 'Task ID': mjId });
      await rowOf(page, mjId).waitFor();
      const widths = () =>
        page.getByRole('columnheader').evaluateAll((ths) => ths.map((th) => th.getBoundingClientRect().width));
      const seen: { status: string; widths: number[] }[] = [];
      for (const [advance, status] of [
        [1_000, 'SUBMITTED'],
        [1_000, 'IN PROGRESS'],
        [60_000, 'SUCCESS'],
      ] as const) {
        h.simClock.advance(advance);
        await waitForRowStatus(page, mjId, status);
        seen.push({ status, widths: await widths() });
        if (status === 'IN PROGRESS') await shot(page, 'in-progress-1280');
      }
      expect(seen.map((s) => s.widths)).toEqual(Array(3).fill(seen[0]!.widths));
      expect(await tableFits(page)).toBe(true);
      await page.getByRole('button', { name: 'Reset' }).click();
    },
    BUDGET,
  );

  test(
    'a live change that lands while the listing is loading is not undone by the older listing',
    async () => {
      await page.setViewportSize({ width: 1280, height: 860 });
      if (await page.getByRole('dialog').count()) await page.keyboard.press('Escape');
      await page.getByRole('button', { name: 'Reset' }).click();
      const mjId = await h.relayImagine(ada.key, 'a lantern in the fog');
      await rowOf(page, mjId).waitFor();
      // The next page-size listing is answered by the server at once but reaches the page only when released.
      let release: (() => void) | null = null;
      const held = new Promise<void>((resolve) => {
        void page.route(
          (url) => url.pathname.includes('mj.self') && decodeURIComponent(url.search).includes('"page_size":50'),
          async (route) => {
            const response = await route.fetch();
            if (release) return route.fulfill({ response });
            await new Promise<void>((r) => {
              release = r;
              resolve();
            });
            await route.fulfill({ response }).catch(() => undefined);
          },
        );
      });
      await page.getByLabel('Per page').selectOption('50');
      await held;
      // The task finishes while that listing is on its way; the quota refresh after a 100% event shows the event arrived.
      const refreshed = page.waitForRequest((r) => r.url().includes('user.self'));
      h.simClock.advance(60_000);
      await waitFor(async () => (await taskStatus(h.srv, mjId)) === 'SUCCESS', 'the task finished', STEP_MS);
      await refreshed;
      release!();
      await waitForRowStatus(page, mjId, 'SUCCESS');
      await page.unrouteAll({ behavior: 'ignoreErrors' });
      await page.getByLabel('Per page').selectOption('20');
    },
    BUDGET,
  );

  test(
    'All tasks names users and channels; at 375 px cards, filters and date inputs fit',
    async () => {
      const adminPage = await h.openPage();
      await h.signIn(adminPage, admin);
      await adminPage.getByRole('tab', { name: 'All tasks' }).click();
      const row = rowOf(adminPage, doneId);
      await row.waitFor();
      await waitFor(
        async () => (await row.locator('td[data-label="User"]').innerText()).includes('Ada Lovelace'),
        'the user name',
      );
      expect(await row.locator('td[data-label="Channel"]').innerText()).toContain('sim-east');
      await adminPage.setViewportSize({ width: 1280, height: 860 });
      await shot(adminPage, 'admin-1280');
      // All eleven columns fit the card at 1280 px: nothing hidden behind a sideways scroll.
      expect(await tableFits(adminPage)).toBe(true);

      await adminPage.setViewportSize({ width: 375, height: 800 });
      await adminPage.getByLabel('From', { exact: true }).fill('2026-12-31T23:59');
      await adminPage.getByLabel('To', { exact: true }).fill('2027-12-31T23:59');
      await shot(adminPage, 'admin-375');
      expect(await overflowing(adminPage)).toEqual([]);
      for (const label of ['From', 'To']) {
        const { fits, need, have } = await wholeValueShows(adminPage, label);
        expect({ label, fits, need, have }).toEqual({ label, fits: true, need, have });
      }
      const form = await adminPage.getByRole('form', { name: 'Filters' }).boundingBox();
      const channelFilter = await adminPage.getByLabel('Channel', { exact: true }).boundingBox();
      expect(channelFilter!.x).toBeGreaterThanOrEqual(form!.x);
      expect(channelFilter!.x + channelFilter!.width).toBeLessThanOrEqual(form!.x + form!.width + 0.5);
      // Every card: the Channel line sits in the text column, beside the thumbnail, like the lines above it.
      const cards = await adminPage.locator('tbody tr').evaluateAll((trs) =>
        trs.map((tr) => {
          const thumb = tr.querySelector('td.cell-thumb')!.getBoundingClientRect();
          const user = tr.querySelector('td[data-label="User"]')!.getBoundingClientRect();
          const channel = tr.querySelector('td[data-label="Channel"]')!.getBoundingClientRect();
          return { channelLeft: channel.left >= thumb.right, alignedWithUser: channel.left === user.left };
        }),
      );
      expect(cards.length).toBeGreaterThan(0);
      expect(cards).toEqual(cards.map(() => ({ channelLeft: true, alignedWithUser: true })));
      await adminPage.close();
    },
    BUDGET,
  );

  test('no console errors on any of it', () => {
    expect(h.problems).toEqual([]);
  });
});
