import { Elysia } from 'elysia';
import type { AppDeps } from '../deps.ts';

/** Image forwarder (SPEC §9): placeholder until the poller/forwarder issue fills it. */
export function imageRoutes(_deps: AppDeps) {
  return new Elysia({ name: 'image' });
}
