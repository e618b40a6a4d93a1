import { createApp } from './app.ts';
import { startDemo } from './demo.ts';
import { createPoller } from './jobs/poller.ts';
import { ConfigError, loadConfig, type Config } from './config.ts';
import { openDatabase } from './db/client.ts';
import type { AppDeps } from './deps.ts';
import { OptionsStore } from './domain/options.ts';
import { changeWindowOf, InProcessTaskFeed } from './domain/task-feed.ts';
import { bootstrapRoot } from './domain/users.ts';
import { systemClock } from './lib/clock.ts';
import { createLogger } from './lib/logger.ts';
import pkg from '../package.json' with { type: 'json' };

/** Composition root: config → db + migrations → app.listen → background work → clean shutdown. */
async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const logger = createLogger(config.logLevel, { service: 'mj-gateway' });
  const clock = systemClock;
  const db = openDatabase(config.databasePath);
  let options: OptionsStore;
  try {
    options = OptionsStore.bootstrap(db, config.optionOverrides);
  } catch (err) {
    process.stderr.write(`invalid configuration: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  }
  const root = bootstrapRoot(db, clock, config.initialRootAccessToken);
  if (root.generatedToken) {
    // Printed once, on the first start, to the terminal only: never written to the log stream.
    console.log(`root user created; access token (shown once): ${root.generatedToken}`);
  }

  let listeningPort = config.port;
  const deps: AppDeps = {
    db, config, logger, clock, options,
    serverAddress: () => config.serverAddress ?? `http://localhost:${listeningPort}`,
    fetch: globalThis.fetch,
    taskFeed: new InProcessTaskFeed(db, clock, { changeWindowMs: changeWindowOf(config) }),
    startedAt: clock.now(),
    version: pkg.version,
  };
  const app = createApp(deps).listen({ port: config.port, hostname: config.host });
  listeningPort = app.server?.port ?? config.port;
  logger.info('listening', { host: config.host, port: listeningPort, database: config.databasePath });
  console.log(`mj-gateway listening on http://${config.host === '0.0.0.0' ? 'localhost' : config.host}:${listeningPort}`);

  const demo = config.demo ? await startDemo(deps) : null;
  const poller = createPoller(deps);
  if (config.updateTask) poller.start();

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info('shutting down', { signal });
    await app.stop();
    await poller.stop();
    await demo?.stop();
    db.$client.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

await main();
