import pkg from '../package.json' with { type: 'json' };
import { createApp } from './app.ts';
import { type BackgroundWork, createBackgroundWork, gatewayDeps, openBackend } from './backend.ts';
import { type Config, ConfigError, loadConfig } from './config.ts';
import { isRecoverableDriverFault } from './db/pg/health.ts';
import { startDemo } from './demo.ts';
import type { AppDeps } from './deps.ts';
import { isDatabaseUnavailable } from './domain/errors.ts';
import { OptionsStore } from './domain/options.ts';
import { bootstrapRoot } from './domain/users.ts';
import { imageStoreSettings } from './http/image.ts';
import { openConfiguredImageStore } from './images/open.ts';
import type { ImageStore } from './images/store.ts';
import { systemClock } from './lib/clock.ts';
import { createLogger } from './lib/logger.ts';
import { installProcessFaultHandlers } from './lib/process-faults.ts';
import { cannotListen, probePortOrExit } from './listen.ts';
import { installShutdown } from './shutdown.ts';

/**
 * Listen without SO_REUSEPORT (Elysia turns it on by default, which lets a second gateway share the
 * port and run a second poller). probePortOrExit has already found the port free; should another
 * process take it in between, this start still ends with the same one line and exit code 2.
 */
function listenOrExit(
  app: ReturnType<typeof createApp>,
  config: Config,
  closeDb: () => void,
): ReturnType<typeof createApp> {
  try {
    return app.listen({ port: config.port, hostname: config.host, reusePort: false });
  } catch (err) {
    closeDb();
    cannotListen(config, err);
  }
}

/** Composition root: config → port check → db + migrations → app.listen → background work → clean shutdown. */
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
  probePortOrExit(config);
  const logger = createLogger(config.logLevel, { service: 'mj-gateway' });
  // A safety net only (issue 14): the driver's faults while PostgreSQL is away are survivable.
  installProcessFaultHandlers(
    logger,
    (err) => isDatabaseUnavailable(err) || (config.databaseUrl !== null && isRecoverableDriverFault(err)),
  );
  const clock = systemClock;
  const backend = await openBackend(config, logger, clock);
  const { store } = backend;
  let options: OptionsStore;
  try {
    options = await OptionsStore.bootstrap(store.options, config.optionOverrides);
  } catch (err) {
    process.stderr.write(`invalid configuration: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  }
  let imageStore: ImageStore | null;
  try {
    imageStore = openConfiguredImageStore(imageStoreSettings(config), logger);
  } catch (err) {
    process.stderr.write(
      `invalid configuration: ${config.s3 ? 'IMAGE_STORE' : 'IMAGE_CACHE_DIR'}: ${err instanceof Error ? err.message : String(err)}\n`,
    );
    process.exit(2);
  }

  let listeningPort = config.port;
  // Aborted on shutdown: every live-update stream ends, so the server's graceful stop is not held up.
  const streamsEnd = new AbortController();
  let work: BackgroundWork | null = null;
  const deps: AppDeps = gatewayDeps(backend, {
    config,
    logger,
    clock,
    options,
    imageStore,
    serverAddress: () => config.serverAddress ?? `http://localhost:${listeningPort}`,
    fetch: globalThis.fetch,
    pollerRole: () => work?.poller.role() ?? 'off',
    streamsEnd: streamsEnd.signal,
    startedAt: clock.now(),
    version: pkg.version,
  });
  const app = listenOrExit(createApp(deps), config, () => void backend.close());
  listeningPort = app.server?.port ?? config.port;
  // Set as start-up goes on; the signal handlers are in place from the moment the port is taken.
  let demo: { stop: () => Promise<void> } | null = null;
  const lifecycle = installShutdown({
    logger,
    server: () => app.server,
    endStreams: () => streamsEnd.abort(),
    stopWork: async () => {
      await work?.stop();
    },
    close: async () => {
      await demo?.stop();
      await backend.close();
    },
  });
  // After listen (so a start on a busy port creates nothing) and first thing after it: SQLite's
  // store writes before its promise settles, so no request is served before root exists.
  const root = await bootstrapRoot(deps.store, clock, config.initialRootAccessToken);
  if (root.generatedToken && !config.demo) {
    // Printed once, on the first start, to the terminal only: never written to the log stream.
    // With DEMO the banner prints it, so it still appears once.
    console.log(`root user created; access token (shown once): ${root.generatedToken}`);
  }
  logger.info('listening', {
    host: config.host,
    port: listeningPort,
    database: backend.kind === 'sqlite' ? config.databasePath : 'postgres',
  });
  console.log(
    `mj-gateway listening on http://${config.host === '0.0.0.0' ? 'localhost' : config.host}:${listeningPort}`,
  );

  demo = config.demo ? await startDemo(deps, { rootCreated: root.created }) : null;
  // A signal during start-up: start nothing more (the shutdown has stopped what there was).
  if (lifecycle.stopping()) return;
  // The poller (one leader among processes sharing the database), the options check, and the
  // webhook deliveries (from the poller leader only); UPDATE_TASK=false starts neither.
  work = createBackgroundWork(deps);
  work.start(options);
}

await main();
