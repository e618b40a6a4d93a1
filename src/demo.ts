import type { AppDeps } from './deps.ts';
import { ensureDemoSetup } from './domain/demo-setup.ts';
import { randomAlphanumeric } from './lib/ids.ts';
import { startSimulator } from './simulator/index.ts';

export interface DemoOptions {
  /** Simulator lifecycle step; 1.5 s makes a task finish in well under a minute. */
  stepMs?: number;
  /** Where the welcome text goes (the terminal by default, never the JSON log stream). */
  print?: (line: string) => void;
}

/** Single-quote a value for a POSIX shell line. */
function sh(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/**
 * DEMO=1 (SPEC §3): start the upstream simulator in-process with a random secret, register it as
 * channel `demo`, make sure root has a `demo` API key, and print how to try it.
 */
export async function startDemo(deps: AppDeps, opts: DemoOptions = {}): Promise<{ stop: () => Promise<void> }> {
  const print = opts.print ?? ((line: string) => console.log(line));
  const secret = randomAlphanumeric(32);
  const sim = await startSimulator({ secret, stepMs: opts.stepMs ?? 1500, logger: deps.logger });
  let setup;
  try {
    setup = ensureDemoSetup(deps.db, deps.clock, sim.url, secret);
  } catch (err) {
    await sim.stop();
    throw err;
  }
  deps.logger.info('demo mode started', { simulator: sim.url, channelId: setup.channelId });

  const base = deps.serverAddress();
  const key = `sk-${setup.apiKey}`;
  const lines = [
    '',
    '=== mj-gateway DEMO ===',
    `Upstream simulator: ${sim.url} (registered as channel "demo", id ${setup.channelId})`,
    setup.rootAccessToken
      ? `Root access token (management API, with header New-Api-User: ${setup.rootId}): ${setup.rootAccessToken}`
      : 'Root has no access token; create one with user.regenerateAccessToken.',
    `Demo API key (relay API /mj/*): ${key}`,
    '',
    'Submit an imagine:',
    `  curl -s -X POST ${base}/mj/submit/imagine -H ${sh(`Authorization: Bearer ${key}`)} -H 'Content-Type: application/json' -d '{"prompt":"a lighthouse at dawn, oil painting"}'`,
    'Fetch it (put the "result" id of the answer above in place of <id>):',
    `  curl -s ${base}/mj/task/<id>/fetch -H ${sh(`Authorization: Bearer ${key}`)}`,
    'List your tasks:',
    `  curl -s ${base}/api/mj/self -H ${sh(`Authorization: Bearer ${setup.rootAccessToken ?? '<root access token>'}`)} -H ${sh(`New-Api-User: ${setup.rootId}`)}`,
    '',
  ];
  for (const line of lines) print(line);

  return {
    stop: async () => {
      await sim.stop();
    },
  };
}
