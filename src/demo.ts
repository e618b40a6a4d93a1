import { basename, dirname, extname, join } from 'node:path';
import type { AppDeps } from './deps.ts';
import { ensureDemoSetup } from './domain/demo-setup.ts';
import { randomAlphanumeric } from './lib/ids.ts';
import { type Simulator, type SimulatorOptions, startSimulator } from './simulator/index.ts';

export interface DemoOptions {
  /** Simulator lifecycle step; 1.5 s makes a task finish in well under a minute. */
  stepMs?: number;
  /** Where the welcome text goes (the terminal by default, never the JSON log stream). */
  print?: (line: string) => void;
  /** Root was created by this start: its access token is shown, this once (SPEC §3, secrets printed once). */
  rootCreated?: boolean;
}

/** Single-quote a value for a POSIX shell line. */
function sh(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/** The simulator's task file sits next to the database, so the demo's tasks live as long as it does. */
export function demoTaskFile(databasePath: string): string | undefined {
  if (databasePath === ':memory:' || databasePath.startsWith('file::memory:')) return undefined;
  return join(dirname(databasePath), `${basename(databasePath, extname(databasePath))}-demo-simulator.db`);
}

/**
 * On DEMO_PORT when it is free, so the image links stored last time still point at it; on any free
 * port otherwise (ensureDemoSetup then moves the stored links along).
 */
async function startOnStablePort(
  deps: AppDeps,
  opts: SimulatorOptions,
): Promise<{ sim: Simulator; busyPort: number | null }> {
  const port = deps.config.demoPort;
  try {
    return { sim: await startSimulator({ ...opts, port }), busyPort: null };
  } catch (err) {
    if (port === 0 || (err as { code?: unknown }).code !== 'EADDRINUSE') throw err;
    deps.logger.warn('demo simulator port in use; using a free port', { port });
    return { sim: await startSimulator({ ...opts, port: 0 }), busyPort: port };
  }
}

/**
 * DEMO=1 (SPEC §3): start the upstream simulator in-process with a random secret, register it as
 * channel `demo`, make sure root has a `demo` API key, and print how to try it. Each secret is
 * printed once (SPEC §3): root's access token when this start created root (index.ts leaves it out
 * in DEMO mode), the demo key when this start created it; later starts say where they were shown.
 */
export async function startDemo(
  deps: AppDeps,
  opts: DemoOptions = {},
): Promise<{ stop: () => Promise<void>; simulatorUrl: string }> {
  const print = opts.print ?? ((line: string) => console.log(line));
  const secret = randomAlphanumeric(32);
  const { sim, busyPort } = await startOnStablePort(deps, {
    secret,
    stepMs: opts.stepMs ?? 1500,
    logger: deps.logger,
    taskFile: demoTaskFile(deps.config.databasePath),
  });
  let setup: Awaited<ReturnType<typeof ensureDemoSetup>>;
  try {
    setup = await ensureDemoSetup(deps.store, deps.clock, sim.url, secret);
  } catch (err) {
    await sim.stop();
    throw err;
  }
  deps.logger.info('demo mode started', { simulator: sim.url, channelId: setup.channelId, movedFrom: setup.movedFrom });

  const base = deps.serverAddress();
  // Each secret shown is printed once, in an export line; the curl lines name the shell variables.
  const rootHeaders = `-H "Authorization: Bearer $MJ_ROOT_TOKEN" -H ${sh(`New-Api-User: ${setup.rootId}`)}`;
  const keyHeader = `-H "Authorization: Bearer $MJ_KEY"`;
  const rootToken = opts.rootCreated ? setup.rootAccessToken : null;
  const exports = [
    ...(rootToken ? [`  export MJ_ROOT_TOKEN=${sh(rootToken)}`] : []),
    ...(setup.created ? [`  export MJ_KEY=${sh(`sk-${setup.apiKey}`)}`] : []),
  ];
  const lines = [
    '',
    '=== mj-gateway DEMO ===',
    `Upstream simulator: ${sim.url} (registered as channel "demo", id ${setup.channelId})`,
    ...(busyPort !== null ? [`  (port ${busyPort} was in use; set DEMO_PORT to choose another stable port)`] : []),
    ...(exports.length
      ? [
          `${[
            rootToken ? `Root access token (management API, with header New-Api-User: ${setup.rootId})` : '',
            setup.created ? 'demo API key (relay API /mj/*)' : '',
          ]
            .filter(Boolean)
            .join(' and ')}, shown this once; paste ${exports.length === 1 ? 'this line' : 'these lines'} first:`,
          ...exports,
        ]
      : []),
    ...(rootToken
      ? []
      : [
          `Root access token ($MJ_ROOT_TOKEN; management API, with header New-Api-User: ${setup.rootId}): printed when root was created, ` +
            'not again; signed in, user.regenerateAccessToken replaces it.',
        ]),
    ...(setup.created
      ? []
      : [
          'Demo API key ($MJ_KEY; relay API /mj/*): printed on the first DEMO start, not again; token.create (or the dashboard) makes another.',
        ]),
    '',
    `Dashboard: open ${base}/ in a browser and sign in with root's access token and User ID ${setup.rootId}.`,
    '',
    'Submit an imagine:',
    `  curl -s -X POST ${base}/mj/submit/imagine ${keyHeader} -H 'Content-Type: application/json' -d '{"prompt":"a lighthouse at dawn, oil painting"}'`,
    'Fetch it (put the "result" id of the answer above in place of <id>):',
    `  curl -s ${base}/mj/task/<id>/fetch ${keyHeader}`,
    'List your tasks:',
    `  curl -s ${base}/api/mj/self ${rootHeaders}`,
    'List all tasks (admin):',
    `  curl -s ${base}/api/mj/ ${rootHeaders}`,
    `Everything else this server offers: curl -s ${base}/`,
    '',
  ];
  for (const line of lines) print(line);

  return {
    simulatorUrl: sim.url,
    stop: async () => {
      await sim.stop();
    },
  };
}
