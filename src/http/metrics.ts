import { Elysia } from 'elysia';
import { authenticateManagement, managementCredentials } from '../auth/management.ts';
import { ROLE } from '../contract/constants.ts';
import type { AppDeps } from '../deps.ts';
import { AppError, HTTP_STATUS_OF } from '../domain/errors.ts';
import { managementError } from './errors.ts';

function statusOf(responseValue: unknown, setStatus: number | string | undefined): number {
  if (responseValue instanceof Response) return responseValue.status;
  if (typeof setStatus === 'number') return setStatus;
  const n = Number(setStatus);
  return Number.isInteger(n) && n > 0 ? n : 200;
}

/**
 * `GET /metrics` (Prometheus text) and the request counter. Registered before the other routes:
 * its after-response hook is global, so every route of the app is counted by its pattern.
 * Admin-only with the management API's checks and messages, unless `METRICS_PUBLIC=true`.
 */
export function metricsRoutes(deps: AppDeps) {
  const { metrics } = deps;
  metrics.setUnfinishedSource(() => deps.store.operatorStats.unfinishedByChannel());
  return new Elysia({ name: 'metrics' })
    .onAfterResponse({ as: 'global' }, ({ request, route, set, responseValue }) => {
      metrics.httpRequest(request.method, route || 'unmatched', statusOf(responseValue, set.status));
    })
    .get(
      '/metrics',
      async ({ request }) => {
        if (!deps.config.metricsPublic) {
          try {
            await authenticateManagement(deps.store, managementCredentials(request.headers), ROLE.admin);
          } catch (err) {
            if (!(err instanceof AppError)) throw err;
            return Response.json(managementError(err.message), { status: HTTP_STATUS_OF[err.kind] });
          }
        }
        return new Response(await metrics.registry.metrics(), {
          headers: { 'content-type': metrics.registry.contentType, 'cache-control': 'no-store' },
        });
      },
      { parse: 'none' },
    );
}
