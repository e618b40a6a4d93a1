import type { AppDeps } from './deps.ts';

/** DEMO=1 (SPEC §3): placeholder until the relay issue fills it. */
export async function startDemo(_deps: AppDeps): Promise<{ stop: () => Promise<void> }> {
  return { stop: async () => {} };
}
