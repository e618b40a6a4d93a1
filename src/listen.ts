import type { Config } from './config.ts';

/**
 * SPEC §3: a start that cannot listen says so in exactly one line and exits 2, before it opens or
 * migrates the database, takes the image folder or starts anything else.
 */

/** The one line, then exit 2. */
export function cannotListen(config: Pick<Config, 'host' | 'port'>, err: unknown): never {
  const code = (err as { code?: unknown }).code;
  process.stderr.write(
    code === 'EADDRINUSE'
      ? `port ${config.port} is already in use (HOST ${config.host})\n`
      : `cannot listen on ${config.host}:${config.port}: ${err instanceof Error ? err.message : String(err)}\n`,
  );
  process.exit(2);
}

/**
 * Binds the configured port once and lets it go, first thing at start-up, so a busy port stops
 * the start before anything else happens. Without SO_REUSEPORT, like the real listen: with it a
 * second gateway could share the port. Port 0 (any free port) cannot be busy.
 */
export function probePortOrExit(config: Pick<Config, 'host' | 'port'>): void {
  if (config.port === 0) return;
  try {
    Bun.serve({
      port: config.port,
      hostname: config.host,
      reusePort: false,
      fetch: () => new Response(null, { status: 503 }),
    }).stop(true);
  } catch (err) {
    cannotListen(config, err);
  }
}
