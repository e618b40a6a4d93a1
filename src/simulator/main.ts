/**
 * Standalone simulator (`bun run simulator`): SIM_PORT (default 8090), SIM_SECRET (default none),
 * SIM_STEP_MS (default 1000), SIM_SLOW_MS (default 65000), SIM_HOST (default 127.0.0.1), SIM_NOTIFY (default true: POST
 * each task change to its notifyHook), SIM_IMAGE_SIZE (default 256; 2048 serves full-size grids), read by
 * src/config.ts like every other variable.
 */
import { ConfigError, loadSimulatorConfig, type SimulatorConfig } from '../config.ts';
import { createLogger } from '../lib/logger.ts';
import { startSimulator } from './server.ts';

let config: SimulatorConfig;
try {
  config = loadSimulatorConfig();
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  console.error(err.message);
  process.exit(2);
}

const logger = createLogger('info');
const sim = await startSimulator({
  port: config.port,
  hostname: config.host,
  secret: config.secret ?? undefined,
  stepMs: config.stepMs,
  slowMs: config.slowMs,
  notify: config.notify,
  imageSize: config.imageSize,
  logger,
});
console.log(`midjourney-proxy simulator listening on ${sim.url}`);

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info('shutting down', { signal });
  await sim.stop();
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
