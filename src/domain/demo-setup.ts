import type { DemoSetupRow, ManagementStore } from '../contract/index.ts';
import type { Clock } from '../lib/clock.ts';
import { randomAlphanumeric } from '../lib/ids.ts';
import { normaliseBaseUrl } from './channels.ts';
import { AppError } from './errors.ts';
import { newWebhookSecret } from './tokens.ts';

/** Name of the channel and of the API key that DEMO mode owns. */
export const DEMO_NAME = 'demo';
/** Quota given to root the first time the demo key is made: 100 USD. */
export const DEMO_ROOT_QUOTA = 50_000_000;

export type DemoSetup = DemoSetupRow;

/**
 * Register (or refresh) channel `demo` to point at the in-process simulator, and make sure root
 * has an enabled, unlimited API key named `demo`; the first time, root also gets some quota. One
 * transaction in the store, so a restart never sees half of it and never grants the quota twice;
 * when the simulator moved, the stored media links of the channel's tasks follow it.
 */
export async function ensureDemoSetup(
  store: Pick<ManagementStore, 'demo'>,
  clock: Clock,
  baseUrl: string,
  key: string,
): Promise<DemoSetup> {
  const setup = await store.demo.ensure({
    name: DEMO_NAME,
    baseUrl: normaliseBaseUrl(baseUrl),
    channelKey: key,
    newApiKey: randomAlphanumeric(48),
    newWebhookSecret: newWebhookSecret(),
    rootQuota: DEMO_ROOT_QUOTA,
    grantWhy: 'demo starting quota',
    now: clock.now(),
  });
  if (!setup) throw new AppError('NOT_FOUND', 'no root user to give the demo API key to');
  return setup;
}
