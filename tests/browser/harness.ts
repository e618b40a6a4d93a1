import { expect } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { createPoller, type Poller } from '../../src/jobs/poller.ts';
import { ManualClock } from '../../src/lib/clock.ts';
import { type Simulator, startSimulator } from '../../src/simulator/index.ts';
import { addChannel } from '../helpers/rows.ts';
import { startTestServer, type TestServer, waitFor } from '../helpers/server.ts';

/** A gateway, the simulator as its upstream on a manual clock, a running poller and Debian's Chromium. */
export interface DashboardHarness {
  srv: TestServer;
  sim: Simulator;
  simClock: ManualClock;
  channelId: number;
  context: BrowserContext;
  /** Console errors and page errors of every page opened here. */
  problems: string[];
  openPage(): Promise<Page>;
  signIn(page: Page, who: { accessToken: string; id: number }): Promise<void>;
  /** Submits an imagine through the relay with the given API key headers; returns its mj_id. */
  relayImagine(key: Record<string, string>, prompt: string): Promise<string>;
  stop(): Promise<void>;
}

const SECRET = 'browser-secret';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** `imageSize`: edge of the simulator's images (default 128; 2048 = full-size grids, SPEC §18). */
export async function startDashboardHarness(opts: {
  channelName: string;
  imageSize?: number;
}): Promise<DashboardHarness> {
  const srv = await startTestServer();
  const simClock = new ManualClock();
  let sim: Simulator | undefined;
  let poller: Poller | undefined;
  let context: BrowserContext | undefined;
  const profile = mkdtempSync(join(tmpdir(), 'mjg-chromium-'));
  const stop = async () => {
    await context?.close();
    rmSync(profile, { recursive: true, force: true });
    await poller?.stop();
    await sim?.stop();
    await srv.stop();
  };
  try {
    sim = await startSimulator({ secret: SECRET, clock: simClock, stepMs: 1000, imageSize: opts.imageSize ?? 128 });
    const channelId = await addChannel(srv.handle, sim.url, { key: SECRET, name: opts.channelName });
    poller = createPoller(srv.deps, { intervalMs: 50 });
    poller.start();
    context = await chromium.launchPersistentContext(profile, {
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1280, height: 860 },
    });
    const problems: string[] = [];
    const ctx = context;
    return {
      srv,
      sim,
      simClock,
      channelId,
      context,
      problems,
      stop,
      async openPage() {
        const page = await ctx.newPage();
        page.setDefaultTimeout(15_000);
        page.on('console', (m) => {
          // A refused call (4xx) is logged by Chrome itself; the tests that provoke one assert on the page instead.
          if (
            m.type() === 'error' &&
            !m.text().startsWith('Failed to load resource: the server responded with a status of 400')
          ) {
            problems.push(`console: ${m.text()}`);
          }
        });
        page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
        return page;
      },
      async signIn(page, who) {
        await page.goto(srv.url);
        await page.getByLabel('Access token').fill(who.accessToken);
        await page.getByLabel('User ID').fill(String(who.id));
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page.getByRole('tab', { name: 'My tasks' }).waitFor();
      },
      async relayImagine(key, prompt) {
        const res = await fetch(`${srv.url}/mj/submit/imagine`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...key },
          body: JSON.stringify({ prompt }),
        });
        const body = (await res.json()) as { code: number; result: string };
        expect(body.code).toBe(1);
        return body.result;
      },
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The database's view of a task (the poller writes before the live feed moves the page). */
export async function taskStatus(srv: TestServer, mjId: string): Promise<string | undefined> {
  return (await srv.sql<{ status: string }>('SELECT status FROM tasks WHERE mj_id = $1', mjId))[0]?.status;
}

export { waitFor };
