import type { Config } from './config.ts';
import type { DB } from './db/client.ts';
import type { OptionsStore } from './domain/options.ts';
import type { TaskFeed } from './domain/task-feed.ts';
import type { Clock } from './lib/clock.ts';
import type { Logger } from './lib/logger.ts';

/**
 * Everything the app needs from outside, passed in by the composition root (src/index.ts) or by
 * a test: no module reads the environment or opens the database by itself.
 */
export interface AppDeps {
  db: DB;
  config: Config;
  logger: Logger;
  clock: Clock;
  options: OptionsStore;
  /** Public base URL for image links; a function because PORT=0 is only known after listen. */
  serverAddress: () => string;
  /** fetch used for upstream calls (the real one in production). */
  fetch: typeof fetch;
  /** Live task changes: the relay and the poller publish, `mj.onTaskUpdate` subscribes. */
  taskFeed: TaskFeed;
  startedAt: number;
  version: string;
}
