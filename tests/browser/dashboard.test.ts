import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { SIM_FAIL_REASON } from '../../src/simulator/index.ts';
import type { TestUser } from '../helpers/factories.ts';
import { addApiKey, addUser } from '../helpers/rows.ts';
import { type TestServer, waitFor } from '../helpers/server.ts';
import { type DashboardHarness, startDashboardHarness } from './harness.ts';

/**
 * The dashboard in Debian's Chromium (SPEC §14): sign-in by the labels, live rows, thumbnails,
 * the detail view, the prompt box and follow-ups, the admin view, 375 px, no console errors.
 */

/** Per-test budget: Chromium on a busy 2-core machine; every wait inside is a wait-for. */
const BUDGET = 45_000;
/** How long a step may wait for the poller and the live feed on a busy machine (a deadline, not a speed assertion). */
const STEP_MS = 25_000;
const SHOTS = join(import.meta.dir, '../../.tmp');
let h: DashboardHarness;
let srv: TestServer;
let user: TestUser & { key: Record<string, string> };
let admin: TestUser;
let channelId: number;
const problems: string[] = [];

/** `refusals` collects Chrome's own "Failed to load resource" lines of a page whose calls are meant to fail. */
async function openPage(refusals?: string[]): Promise<Page> {
  const page = await h.context.newPage();
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    if (refusals && m.text().startsWith('Failed to load resource')) refusals.push(m.text());
    else problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  return page;
}

async function signIn(page: Page, who: TestUser): Promise<void> {
  await page.goto(srv.url);
  await page.getByLabel('Access token').fill(who.accessToken);
  await page.getByLabel('User ID').fill(String(who.id));
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('tab', { name: 'My tasks' }).waitFor();
}

async function relayImagine(prompt: string): Promise<string> {
  return h.relayImagine(user.key, prompt);
}

const progressOf = (page: Page, mjId: string) => page.getByRole('progressbar', { name: `Progress of task ${mjId}` });

async function progressValue(page: Page, mjId: string): Promise<number | null> {
  const bar = progressOf(page, mjId);
  if ((await bar.count()) === 0) return null;
  return Number(await bar.getAttribute('aria-valuenow'));
}

/** Moves the upstream's clock past every task's end; the running poller picks it up. */
const finishUpstream = () => h.simClock.advance(60_000);

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  h = await startDashboardHarness({ channelName: 'sim-main' });
  srv = h.srv;
  channelId = h.channelId;
  const u = await addUser(srv.handle, { quota: 50_000_000, username: 'ada' });
  user = { ...u, key: (await addApiKey(srv.handle, u.id)).headers };
  admin = await addUser(srv.handle, { role: 10, username: 'grace' });
}, 30_000);

afterAll(async () => {
  await h?.stop();
}, BUDGET);

describe('dashboard', () => {
  let page: Page;

  test(
    'a common user signs in by the labels and has no "All tasks"',
    async () => {
      page = await openPage();
      await signIn(page, user);
      expect(await page.getByRole('tab', { name: 'All tasks' }).count()).toBe(0);
      for (const header of ['Task', 'Status', 'Progress']) {
        expect(await page.getByRole('columnheader', { name: header, exact: true }).count()).toBe(1);
      }
    },
    BUDGET,
  );

  test(
    'a relay task appears and its progress bar moves to 100% without a reload; its thumbnail loads',
    async () => {
      const mjId = await relayImagine('a red fox in the snow');
      await waitFor(async () => (await progressValue(page, mjId)) === 0, 'the new row at 0%');
      finishUpstream();
      await waitFor(async () => (await progressValue(page, mjId)) === 100, 'the row at 100%', STEP_MS);
      const thumb = page.getByRole('img', { name: `Thumbnail of task ${mjId}` });
      await thumb.waitFor();
      await waitFor(
        () => thumb.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0),
        'the thumbnail',
      );
    },
    BUDGET,
  );

  test(
    'the detail view of a failed task shows its fail reason',
    async () => {
      const mjId = await relayImagine('a doomed cat --sim-fail');
      await waitFor(async () => (await progressValue(page, mjId)) !== null, 'the failing row');
      finishUpstream();
      await waitFor(
        async () => (await page.getByRole('row').filter({ hasText: mjId }).getByText('FAILURE').count()) === 1,
        'FAILURE',
        STEP_MS,
      );
      await page.getByRole('link', { name: mjId }).click();
      const dialog = page.getByRole('dialog');
      await dialog.getByText('Fail reason').waitFor();
      // Once among the task's fields (the Billing timeline below names it again, as the refund's reason).
      expect(await dialog.locator('dd.fail-reason').getByText(SIM_FAIL_REASON).count()).toBe(1);
      await dialog
        .getByRole('region', { name: 'Billing' })
        .getByRole('cell', { name: 'Refund', exact: true })
        .waitFor();
      await page.screenshot({ path: join(SHOTS, 'dashboard-detail-failed.png') });
      await page.keyboard.press('Escape');
      await dialog.waitFor({ state: 'hidden' });
    },
    BUDGET,
  );

  test(
    'the Status filter lists only tasks of that status, with its exact count',
    async () => {
      const failed = Number(
        (
          await srv.sql<{ n: number }>(
            "SELECT count(*) AS n FROM tasks WHERE status = 'FAILURE' AND user_id = $1",
            user.id,
          )
        )[0]!.n,
      );
      expect(failed).toBeGreaterThan(0);
      await page.getByLabel('Status').selectOption('FAILURE');
      await page.getByRole('button', { name: 'Apply' }).click();
      const pager = page.getByText(/Page 1 of \d+ · \d+ tasks?/);
      await waitFor(
        async () => (await pager.textContent())?.endsWith(`${failed} ${failed === 1 ? 'task' : 'tasks'}`) === true,
        'the filtered count',
      );
      const statuses = await page.locator('td[data-label="Status"]').allTextContents();
      expect(statuses.length).toBe(failed);
      expect(statuses.every((s) => s.includes('FAILURE'))).toBe(true);
      await page.screenshot({ path: join(SHOTS, 'dashboard-status-filter.png') });
      await page.getByRole('button', { name: 'Reset' }).click();
      await waitFor(async () => !(await pager.textContent())?.endsWith(` ${failed} tasks`), 'the reset list');
    },
    BUDGET,
  );

  test(
    'an imagine from the prompt box and U1 on its result both finish',
    async () => {
      await page.getByLabel('Prompt').fill('a lighthouse at dawn, watercolor');
      await page.getByRole('button', { name: 'Imagine' }).click();
      const created = await waitFor(
        async () =>
          (
            await srv.sql<{ mj_id: string }>(
              "SELECT mj_id FROM tasks WHERE prompt = 'a lighthouse at dawn, watercolor' AND mj_id <> ''",
            )
          )[0],
        'the imagine task',
      );
      await waitFor(async () => (await progressValue(page, created.mj_id)) !== null, 'the imagine row');
      finishUpstream();
      await waitFor(async () => (await progressValue(page, created.mj_id)) === 100, 'the imagine at 100%', STEP_MS);

      await page.getByRole('link', { name: created.mj_id }).click();
      const dialog = page.getByRole('dialog');
      await dialog.getByRole('button', { name: 'U1', exact: true }).click();
      await dialog.getByRole('status').filter({ hasText: 'UPSCALE submitted' }).waitFor();
      await page.screenshot({ path: join(SHOTS, 'dashboard-detail.png') });
      await page.keyboard.press('Escape');
      const upscale = await waitFor(
        async () =>
          (await srv.sql<{ mj_id: string }>("SELECT mj_id FROM tasks WHERE action = 'UPSCALE' AND mj_id <> ''"))[0],
        'the upscale task',
      );
      await waitFor(async () => (await progressValue(page, upscale.mj_id)) !== null, 'the upscale row');
      finishUpstream();
      // The poller writes it first (the database says so), then the live feed moves the page.
      await waitFor(
        async () =>
          (await srv.sql<{ progress: string }>('SELECT progress FROM tasks WHERE mj_id = $1', upscale.mj_id))[0]
            ?.progress === '100%',
        'the upscale written at 100%',
        STEP_MS,
      );
      await waitFor(
        async () => (await progressValue(page, upscale.mj_id)) === 100,
        'the upscale at 100% on the page',
        STEP_MS,
      );
      await page.emulateMedia({ reducedMotion: 'reduce' });
      await page.screenshot({ path: join(SHOTS, 'dashboard-desktop.png') });
    },
    BUDGET,
  );

  test(
    'at 375 px nothing scrolls sideways',
    async () => {
      await page.setViewportSize({ width: 375, height: 800 });
      await page.getByRole('progressbar').first().waitFor();
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      await page.screenshot({ path: join(SHOTS, 'dashboard-375.png'), fullPage: false });
      expect(width).toBeLessThanOrEqual(375);
      await page.getByRole('table').getByRole('link').first().click();
      const dialog = page.getByRole('dialog');
      await dialog.getByText('Status').waitFor();
      const dialogFits = await dialog.evaluate(
        (d) => d.getBoundingClientRect().right <= 375 && d.scrollWidth <= d.clientWidth,
      );
      await page.screenshot({ path: join(SHOTS, 'dashboard-375-detail.png'), fullPage: false });
      await page.keyboard.press('Escape');
      expect(dialogFits).toBe(true);
      await page.setViewportSize({ width: 1280, height: 860 });
    },
    BUDGET,
  );

  test(
    'an admin has "All tasks" with user and channel columns and the Channel filter',
    async () => {
      const adminPage = await openPage();
      await signIn(adminPage, admin);
      await adminPage.getByRole('tab', { name: 'All tasks' }).click();
      const channel = adminPage.getByLabel('Channel');
      await channel.waitFor();
      await channel.selectOption(String(channelId));
      await adminPage.getByRole('button', { name: 'Apply' }).click();
      await adminPage.getByRole('columnheader', { name: 'User', exact: true }).waitFor();
      await waitFor(async () => (await adminPage.getByRole('progressbar').count()) > 0, "the users' tasks");
      expect(await adminPage.getByRole('columnheader', { name: 'Channel', exact: true }).count()).toBe(1);
      await adminPage.screenshot({ path: join(SHOTS, 'dashboard-admin.png') });
      await adminPage.emulateMedia({ colorScheme: 'dark' });
      await adminPage.screenshot({ path: join(SHOTS, 'dashboard-dark.png') });
      await adminPage.close();
    },
    BUDGET,
  );

  test(
    'by keyboard alone: sign in; with no API key the page offers one, then says the quota is short',
    async () => {
      const refusals: string[] = [];
      const kbPage = await openPage(refusals);
      await kbPage.goto(srv.url);
      await kbPage.getByLabel('Access token').waitFor();
      await kbPage.keyboard.press('Tab');
      await kbPage.keyboard.type(admin.accessToken);
      await kbPage.keyboard.press('Tab');
      await kbPage.keyboard.type(String(admin.id));
      await kbPage.keyboard.press('Enter');
      await kbPage.getByRole('tab', { name: 'All tasks' }).waitFor();

      await kbPage.getByLabel('Prompt').focus();
      await kbPage.keyboard.type('a quiet harbour');
      await kbPage.keyboard.press('Tab');
      await kbPage.keyboard.press('Enter');
      await kbPage.getByRole('alert').filter({ hasText: 'you have no usable key' }).waitFor();
      const offer = kbPage.getByRole('button', { name: 'Create an API key' });
      await offer.focus();
      await kbPage.keyboard.press('Enter');
      await kbPage.getByRole('status').filter({ hasText: 'Created API key' }).waitFor();

      await kbPage.getByRole('button', { name: 'Imagine' }).focus();
      await kbPage.keyboard.press('Enter');
      await kbPage.getByRole('alert').filter({ hasText: 'Not enough quota' }).waitFor();
      await kbPage.screenshot({ path: join(SHOTS, 'dashboard-refusal.png') });
      await kbPage.close();
      // The two refused submits (no_api_key, quota_not_enough) are HTTP 400s, which Chrome logs itself.
      expect(refusals).toEqual(
        Array(2).fill('Failed to load resource: the server responded with a status of 400 (Bad Request)'),
      );
    },
    BUDGET,
  );

  test('no console errors on any of it', () => {
    expect(problems).toEqual([]);
  });
});
