import { Elysia } from 'elysia';
import type { AppDeps } from '../deps.ts';
import {
  applyPushedTask,
  MAX_NOTIFY_BODY_BYTES,
  notifySecretsOf,
  type PushEnv,
  syncSettingsOf,
} from '../domain/upstream-push.ts';
import { BodyTooLargeError, discardBody, readBodyText } from './body.ts';

type Set = { status?: number | string; headers: Record<string, string | number> };

const json = (set: Set, status: number, body: unknown) => {
  set.status = status;
  set.headers['content-type'] = 'application/json';
  return JSON.stringify(body);
};

/** A channel id as the path carries it: a positive int4, nothing else. */
function channelIdOf(raw: string): number | null {
  if (!/^[1-9]\d{0,9}$/.test(raw)) return null;
  const n = Number(raw);
  return n <= 2_147_483_647 ? n : null;
}

/**
 * `POST /mj/notify/:channel/:secret` (SPEC §16): an upstream pushes a task's JSON. The secret is
 * checked before the body is read (a wrong one changes nothing: 401); the body is bounded (1 MiB,
 * 413), parsed (400), and applied through the poller's own path (domain/upstream-push.ts): 204,
 * or 404 when the channel has no task of that id.
 */
export function notifyRoutes(deps: AppDeps) {
  const secrets = notifySecretsOf(deps.store.options);
  const env: PushEnv = {
    taskStore: deps.taskStore,
    clock: deps.clock,
    taskFeed: deps.taskFeed,
    metrics: deps.metrics,
    settings: syncSettingsOf(deps),
  };
  const log = deps.logger.child({ component: 'upstream-push' });
  return new Elysia({ name: 'notify' }).post(
    '/mj/notify/:channel/:secret',
    async ({ request, set, params }) => {
      const channelId = channelIdOf(params.channel);
      const valid =
        channelId !== null &&
        (await secrets.verify(channelId, params.secret)) &&
        (await deps.store.channels.byId(channelId)) !== null;
      if (!valid || channelId === null) {
        await discardBody(request);
        deps.metrics.upstreamNotify('invalid_secret');
        set.headers.connection = 'close';
        return json(set, 401, { error: 'invalid_notify_secret' });
      }
      let text: string;
      try {
        text = await readBodyText(request, MAX_NOTIFY_BODY_BYTES);
      } catch (err) {
        if (err instanceof BodyTooLargeError) {
          deps.metrics.upstreamNotify('invalid');
          set.headers.connection = 'close';
          return json(set, 413, { error: 'request body too large' });
        }
        throw err;
      }
      let body: unknown;
      try {
        body = JSON.parse(text) as unknown;
      } catch {
        deps.metrics.upstreamNotify('invalid');
        return json(set, 400, { error: 'request body is not valid JSON' });
      }
      const outcome = await applyPushedTask(env, channelId, body);
      if (outcome.kind === 'invalid') {
        deps.metrics.upstreamNotify('invalid');
        return json(set, 400, { error: `invalid task: ${outcome.reason}` });
      }
      if (outcome.kind === 'unknown_task') {
        deps.metrics.upstreamNotify('unknown_task');
        return json(set, 404, { error: 'task_not_found' });
      }
      deps.metrics.upstreamNotify(outcome.counts.changed.length > 0 ? 'applied' : 'unchanged');
      if (outcome.counts.changed.length > 0)
        log.debug('pushed change applied', { channelId, changed: outcome.counts.changed });
      set.status = 204;
      return new Response(null, { status: 204, headers: set.headers as Record<string, string> });
    },
    { parse: 'none' },
  );
}
