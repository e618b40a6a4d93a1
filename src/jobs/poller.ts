import type { AppDeps } from '../deps.ts';

export interface Poller {
  start(): void;
  stop(): Promise<void>;
  runOnce(): Promise<void>;
}

/** Background poller (SPEC §8): placeholder until the poller issue fills it. */
export function createPoller(_deps: AppDeps): Poller {
  return { start() {}, async stop() {}, async runOnce() {} };
}
