import { dirname, join } from 'node:path';
import { Elysia } from 'elysia';
import type { AppDeps } from '../deps.ts';
import { buildOpenApiDocument } from './openapi.ts';

/**
 * `GET /openapi.json` and `GET /docs` (SPEC §14): the document, and Swagger UI served from the
 * installed swagger-ui-dist package (no CDN). Only the files named here are served.
 */

const SWAGGER_DIR = dirname(Bun.resolveSync('swagger-ui-dist/package.json', import.meta.dir));
const ASSET_CACHE = 'public, max-age=86400';

const DOCS_HTML = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>mj-gateway API</title>
  <link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png">
  <link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/assets/swagger-ui-bundle.js"></script>
  <script src="/docs/assets/init.js"></script>
</body>
</html>
`;

/** A file of our own rather than an inline script, so a strict CSP can keep scripts to this origin. */
const INIT_JS = `window.addEventListener('load', function () {
  window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui', deepLinking: true, presets: [SwaggerUIBundle.presets.apis], layout: 'BaseLayout' });
});
`;

const PACKAGE_ASSETS: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
};

export function openapiRoutes(deps: AppDeps) {
  let document: Record<string, unknown> | undefined;
  const app = new Elysia({ name: 'openapi' })
    .get('/openapi.json', () => {
      document ??= buildOpenApiDocument(deps.version);
      return Response.json({ ...document, servers: [{ url: deps.serverAddress() }] });
    })
    .get(
      '/docs',
      () =>
        new Response(DOCS_HTML, {
          headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache' },
        }),
    )
    .get(
      '/docs/assets/init.js',
      () =>
        new Response(INIT_JS, {
          headers: { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': ASSET_CACHE },
        }),
    );
  for (const [name, type] of Object.entries(PACKAGE_ASSETS)) {
    const path = join(SWAGGER_DIR, name);
    app.get(
      `/docs/assets/${name}`,
      () => new Response(Bun.file(path), { headers: { 'content-type': type, 'cache-control': ASSET_CACHE } }),
    );
  }
  return app;
}
