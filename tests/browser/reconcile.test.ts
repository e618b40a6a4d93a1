import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import type { TestUser } from '../helpers/factories.ts';
import { addApiKey, addUser, quotaOf } from '../helpers/rows.ts';
import { type DashboardHarness, startDashboardHarness, taskStatus } from './harness.ts';

/**
 * Reconciliation and the money timeline in the dashboard (SPEC §16): an admin's detail of an
 * unfinished task offers `Resync` and `Fail and refund` (which asks for a reason); every detail
 * shows the task's `Billing`. The simulator's clock stands still, so a task stays unfinished until
 * a test moves it.
 */

const BUDGET = 60_000;
const SHOTS = join(import.meta.dir, '../../.tmp');
const PRICE = 50_000;
let h: DashboardHarness;
let admin: TestUser & { key: Record<string, string> };
let plain: TestUser & { key: Record<string, string> };

const dialog = (page: Page) => page.getByRole('dialog');

async function openDetail(page: Page, mjId: string): Promise<void> {
  await page.getByRole('row').getByRole('link', { name: mjId, exact: true }).click();
  await dialog(page)
    .getByRole('heading', { name: `Task ${mjId}` })
    .waitFor();
}

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  h = await startDashboardHarness({ channelName: 'sim-reconcile' });
  const a = await addUser(h.srv.handle, { quota: 10 * PRICE, username: 'ops', role: 10 });
  admin = { ...a, key: (await addApiKey(h.srv.handle, a.id, { remainQuota: 10 * PRICE })).headers };
  const u = await addUser(h.srv.handle, { quota: 10 * PRICE, username: 'pat' });
  plain = { ...u, key: (await addApiKey(h.srv.handle, u.id, { remainQuota: 10 * PRICE })).headers };
}, BUDGET);

afterAll(async () => {
  await h?.stop();
}, BUDGET);

describe('reconciliation in the task detail', () => {
  test(
    'an admin resyncs, then fails and refunds an unfinished task with a reason; Billing shows charge then refund',
    async () => {
      const mjId = await h.relayImagine(admin.key, 'a lighthouse that never finishes');
      const page = await h.openPage();
      await h.signIn(page, admin);
      await openDetail(page, mjId);
      const billing = dialog(page).getByRole('region', { name: 'Billing' });
      await billing.getByRole('cell', { name: 'Charge', exact: true }).waitFor();
      expect(await billing.getByRole('heading', { name: 'Billing' }).count()).toBe(1);
      // Resync asks the upstream now: the simulator moved on meanwhile.
      h.simClock.advance(3_000);
      await dialog(page).getByRole('button', { name: 'Resync' }).click();
      await dialog(page).getByRole('status').filter({ hasText: 'Resynced: IN_PROGRESS' }).waitFor();
      expect(await taskStatus(h.srv, mjId)).toBe('IN_PROGRESS');
      await page.screenshot({ path: join(SHOTS, 'reconcile-admin-unfinished.png') });
      // Fail and refund asks for a reason first.
      await dialog(page).getByRole('button', { name: 'Fail and refund' }).click();
      const confirm = dialog(page).getByRole('button', { name: 'Confirm fail and refund' });
      expect(await confirm.isDisabled()).toBe(true);
      await dialog(page).getByLabel('Reason').fill('stuck upstream, refunded by ops');
      await confirm.click();
      await dialog(page).getByRole('status').filter({ hasText: 'Task failed and refunded.' }).waitFor();
      await billing.getByRole('cell', { name: 'Refund', exact: true }).waitFor();
      expect(await billing.getByText('stuck upstream, refunded by ops').count()).toBe(1);
      expect(await taskStatus(h.srv, mjId)).toBe('FAILURE');
      expect(await quotaOf(h.srv.handle, admin.id)).toBe(10 * PRICE);
      // Finished: the buttons are gone, the fail reason shows.
      await dialog(page).getByRole('button', { name: 'Resync' }).waitFor({ state: 'detached' });
      expect(await dialog(page).getByRole('button', { name: 'Fail and refund' }).count()).toBe(0);
      await dialog(page).getByText('stuck upstream, refunded by ops').first().waitFor();
      await page.screenshot({ path: join(SHOTS, 'reconcile-admin-refunded.png') });
      expect(h.problems).toEqual([]);
      await page.close();
    },
    BUDGET,
  );

  test(
    'a user sees the Billing of an own task but no reconciliation buttons',
    async () => {
      const mjId = await h.relayImagine(plain.key, 'a kettle on a stove');
      const page = await h.openPage();
      await h.signIn(page, plain);
      await openDetail(page, mjId);
      await dialog(page)
        .getByRole('region', { name: 'Billing' })
        .getByRole('cell', { name: 'Charge', exact: true })
        .waitFor();
      expect(await dialog(page).getByRole('button', { name: 'Resync' }).count()).toBe(0);
      expect(await dialog(page).getByRole('button', { name: 'Fail and refund' }).count()).toBe(0);
      await page.screenshot({ path: join(SHOTS, 'reconcile-user-billing.png') });
      // At 375 px the timeline folds into two lines an entry: nothing scrolls sideways.
      await page.setViewportSize({ width: 375, height: 800 });
      await dialog(page).getByRole('region', { name: 'Billing' }).scrollIntoViewIfNeeded();
      const fits = await dialog(page).evaluate(
        (d) => d.getBoundingClientRect().right <= 375 && d.scrollWidth <= d.clientWidth,
      );
      await page.screenshot({ path: join(SHOTS, 'reconcile-user-billing-375.png') });
      expect(fits).toBe(true);
      expect(h.problems).toEqual([]);
      await page.close();
    },
    BUDGET,
  );
});
