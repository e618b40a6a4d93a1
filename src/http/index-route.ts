import type { AppDeps } from '../deps.ts';
import { SUBMIT_ROUTES } from '../domain/relay/schemas.ts';
import { appRouter } from '../trpc/routers/index.ts';

/**
 * `GET /`: a small JSON index of the surfaces, so the first URL a new user opens answers with
 * where to go next. Built from the route tables themselves, so it cannot list a route that is not
 * served. Browsers (`Accept: text/html`) get the dashboard at `GET /` instead (http/web.ts).
 */

export interface SurfaceIndex {
  name: string;
  version: string;
  server_address: string;
  auth: { management: string; relay: string };
  surfaces: {
    relay: {
      submit: string[];
      fetch: string;
      list_by_condition: string;
      image_seed: string;
      mode_prefix: string;
      upstream_notify: string;
    };
    rest: string[];
    trpc: { endpoint: string; procedures: string[] };
    image: string;
    health: string;
    status: string;
    dashboard: string;
    api_document: string;
    docs: string;
    metrics: string;
  };
}

export function surfaceIndex(deps: AppDeps): SurfaceIndex {
  return {
    name: 'mj-gateway',
    version: deps.version,
    server_address: deps.serverAddress(),
    auth: {
      management: 'Authorization: Bearer <access token> and New-Api-User: <user id>',
      relay: 'Authorization: Bearer sk-<API key> (or mj-api-secret: sk-<API key>)',
    },
    surfaces: {
      relay: {
        submit: Object.keys(SUBMIT_ROUTES).map((suffix) => `POST /mj${suffix}`),
        fetch: 'GET /mj/task/:id/fetch',
        list_by_condition: 'POST /mj/task/list-by-condition',
        image_seed: 'GET /mj/task/:id/image-seed',
        mode_prefix: '/:mode/mj/... (e.g. /mj-fast/mj/submit/imagine)',
        upstream_notify: "POST /mj/notify/:channel/:secret (the upstream's push; the hook forwarded jobs carry)",
      },
      rest: ['GET /api/mj/self', 'GET /api/mj/', 'GET /api/status'],
      trpc: { endpoint: '/trpc', procedures: Object.keys(appRouter._def.procedures) },
      image: 'GET /mj/image/:id',
      health: 'GET /healthz',
      status: 'GET /api/status',
      dashboard: 'GET / (in a browser)',
      api_document: 'GET /openapi.json',
      docs: 'GET /docs',
      metrics: 'GET /metrics',
    },
  };
}
