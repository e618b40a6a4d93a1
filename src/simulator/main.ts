/**
 * Standalone simulator (`bun run simulator`). The only simulator file that reads process.env:
 * SIM_PORT (default 8090), SIM_SECRET (default none), SIM_STEP_MS (default 1000),
 * SIM_SLOW_MS (default 65000), SIM_HOST (default 127.0.0.1).
 */
import { createLogger } from '../lib/logger.ts';
import { startSimulator } from './server.ts';

function intEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) {
    console.error(`${name} must be a non-negative integer, got ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return n;
}

const logger = createLogger('info');
const secret = process.env.SIM_SECRET;
const sim = await startSimulator({
  port: intEnv('SIM_PORT', 8090),
  hostname: process.env.SIM_HOST || '127.0.0.1',
  secret: secret === undefined || secret === '' ? undefined : secret,
  stepMs: intEnv('SIM_STEP_MS', 1000),
  slowMs: intEnv('SIM_SLOW_MS', 65000),
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
