import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import type { TestUser } from '../helpers/factories.ts';
import { addApiKey, addUser } from '../helpers/rows.ts';
import { type DashboardHarness, startDashboardHarness, taskStatus, waitFor } from './harness.ts';

/** Deep links (SPEC §16): `/tasks/<mj_id>` opens that task's detail; every row's task id links to it. */

const BUDGET = 60_000;
const STEP_MS = 25_000;
const SHOTS = join(import.meta.dir, '../../.tmp');
let h: DashboardHarness;
let user: TestUser & { key: Record<string, string> };
/** Submitted first: with 21 newer tasks it is not on the first page of 20. */
let oldest: string;
let newest: string;

const detailHeading = (page: Page, mjId: string) =>
  page.getByRole('dialog').getByRole('heading', { name: `Task ${mjId}` });
const path = (page: Page) => new URL(page.url()).pathname;

async function signInHere(page: Page): Promise<void> {
  await page.getByLabel('Access token').fill(user.accessToken);
  await page.getByLabel('User ID').fill(String(user.id));
  await page.getByRole('button', { name: 'Sign in' }).click();
}

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  h = await startDashboardHarness({ channelName: 'sim-links' });
  const u = await addUser(h.srv.handle, { quota: 50_000_000, username: 'lin' });
  user = { ...u, key: (await addApiKey(h.srv.handle, u.id)).headers };
  oldest = await h.relayImagine(user.key, 'a harbour at night, oil painting');
  for (let i = 0; i < 20; i++) await h.relayImagine(user.key, `filler ${i}`);
  newest = await h.relayImagine(user.key, 'a fox in tall grass');
  h.simClock.advance(60_000);
  await waitFor(
    async () => (await taskStatus(h.srv, oldest)) === 'SUCCESS' && (await taskStatus(h.srv, newest)) === 'SUCCESS',
    'both tasks finished',
    STEP_MS,
  );
}, BUDGET);

afterAll(async () => {
  await h?.stop();
}, BUDGET);

describe('deep links', () => {
  test(
    'GET /tasks/<mj_id> serves the dashboard page; a malformed id is a JSON 404',
    async () => {
      const page = await fetch(`${h.srv.url}/tasks/${oldest}`, { headers: { accept: 'text/html' } });
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toStartWith('text/html');
      expect(await page.text()).toContain('<div id="root"></div>');
      for (const bad of [`${'1'.repeat(65)}`, 'a%20b', '%3Cscript%3E']) {
        const res = await fetch(`${h.srv.url}/tasks/${bad}`, { headers: { accept: 'text/html' } });
        expect(res.status).toBe(404);
        expect(res.headers.get('content-type')).toStartWith('application/json');
      }
    },
    BUDGET,
  );

  test(
    'the task id of a row is a link to /tasks/<mj_id>; a click opens the detail over the list and Back closes it',
    async () => {
      const page = await h.openPage();
      await h.signIn(page, user);
      const link = page.getByRole('row').getByRole('link', { name: newest, exact: true });
      expect(await link.getAttribute('href')).toBe(`/tasks/${newest}`);
      await link.click();
      await detailHeading(page, newest).waitFor();
      expect(path(page)).toBe(`/tasks/${newest}`);
      expect(await page.getByRole('dialog').getByText('SUCCESS').count()).toBeGreaterThan(0);
      // The list stays behind the detail: no page load happened.
      expect(await page.getByRole('row').filter({ hasText: 'filler 19' }).count()).toBe(1);
      await page.goBack();
      await page.getByRole('dialog').waitFor({ state: 'hidden' });
      expect(path(page)).toBe('/');
      // Forward opens it again; Close goes back to the list.
      await page.goForward();
      await detailHeading(page, newest).waitFor();
      await page.getByRole('dialog').getByRole('button', { name: 'Close' }).click();
      await page.getByRole('dialog').waitFor({ state: 'hidden' });
      await waitFor(() => path(page) === '/', 'the list address after Close');
      await page.close();
    },
    BUDGET,
  );

  test(
    'opening the link in a new tab asks for sign-in (the session is per tab), then shows the detail',
    async () => {
      const page = await h.openPage();
      await h.signIn(page, user);
      const [tab] = await Promise.all([
        h.context.waitForEvent('page'),
        page.getByRole('row').getByRole('link', { name: newest, exact: true }).click({ button: 'middle' }),
      ]);
      // The original tab did not move.
      expect(path(page)).toBe('/');
      expect(await page.getByRole('dialog').count()).toBe(0);
      await tab.waitForLoadState();
      expect(path(tab)).toBe(`/tasks/${newest}`);
      await tab.getByLabel('Access token').waitFor();
      await tab.close();
      await page.close();
    },
    BUDGET,
  );

  test(
    'a page loaded at /tasks/<mj_id> shows that task even off the first page, signed in already or after sign-in',
    async () => {
      const signedIn = await h.openPage();
      await signedIn.addInitScript(
        (s: string) => sessionStorage.setItem('mj-gateway.session', s),
        JSON.stringify({ token: user.accessToken, userId: user.id }),
      );
      await signedIn.goto(`${h.srv.url}/tasks/${oldest}`);
      await detailHeading(signedIn, oldest).waitFor();
      expect(await signedIn.getByRole('dialog').getByText('a harbour at night, oil painting').count()).toBe(1);
      expect(await signedIn.getByRole('row').filter({ hasText: 'a harbour at night' }).count()).toBe(0);
      // Closing a loaded deep link leaves the list at `/`.
      await signedIn.keyboard.press('Escape');
      await signedIn.getByRole('dialog').waitFor({ state: 'hidden' });
      await waitFor(() => path(signedIn) === '/', 'the list address after Escape');
      await signedIn.close();

      const fresh = await h.openPage();
      await fresh.goto(`${h.srv.url}/tasks/${oldest}`);
      await signInHere(fresh);
      await detailHeading(fresh, oldest).waitFor();
      const image = fresh.getByRole('dialog').getByRole('img', { name: `Result of task ${oldest}` });
      await waitFor(
        () => image.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0),
        'the detail image',
      );
      expect(path(fresh)).toBe(`/tasks/${oldest}`);
      await fresh.screenshot({ path: join(SHOTS, 'deep-link-detail.png') });
      await fresh.close();
      expect(h.problems).toEqual([]);
    },
    BUDGET,
  );
});
