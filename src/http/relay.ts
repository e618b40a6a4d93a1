import { Elysia } from 'elysia';
import type { AppDeps } from '../deps.ts';

/** Relay API (SPEC §7): placeholder until the relay issue fills it. */
export function relayRoutes(_deps: AppDeps) {
  return new Elysia({ name: 'relay' });
}
