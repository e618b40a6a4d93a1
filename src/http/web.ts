import { join } from 'node:path';
import { Elysia } from 'elysia';
import type { AppDeps } from '../deps.ts';
import { TASK_LINK_ID } from '../lib/task-link.ts';
import { buildWeb, type WebBundle } from './web-build.ts';

/** The page may load only its own scripts, styles, images and API. */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ');

const TYPES: Record<string, string> = {
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  map: 'application/json',
  svg: 'image/svg+xml',
  png: 'image/png',
  woff2: 'font/woff2',
};

/** A browser navigation (Accept names text/html) rather than an API client asking `/` for JSON. */
export function wantsHtml(request: Request): boolean {
  return /\btext\/html\b/.test(request.headers.get('accept') ?? '');
}

/**
 * The dashboard (SPEC §14) at `GET /`, with its hashed assets under `/assets/`. The bundle is the
 * one `bun run build` made for the current sources, or is built on the first request when
 * missing (so tests and a bare `bun run start` need no extra step). `opts.nonHtml` answers `GET /`
 * for clients that do not ask for HTML.
 */
export function webRoutes(deps: AppDeps, opts: { nonHtml?: (request: Request) => Response | Promise<Response> } = {}) {
  let bundle: Promise<WebBundle> | null = null;
  const ensure = () =>
    (bundle ??= buildWeb().catch((err: unknown) => {
      bundle = null;
      throw err;
    }));
  const unavailable = (err: unknown) => {
    deps.logger.error('dashboard bundle unavailable', { error: err instanceof Error ? err : String(err) });
    return new Response('The dashboard could not be built; see the server log.', {
      status: 503,
      headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' },
    });
  };

  const page = async () => {
    let b: WebBundle;
    try {
      b = await ensure();
    } catch (err) {
      return unavailable(err);
    }
    return new Response(b.indexHtml, {
      headers: {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-cache',
        'content-security-policy': CSP,
        'x-content-type-options': 'nosniff',
        'referrer-policy': 'no-referrer',
        vary: 'accept',
      },
    });
  };

  return (
    new Elysia({ name: 'web' })
      .get('/', async ({ request }) => {
        // `/` also serves API clients (a JSON index) when given one: only browsers get the page.
        if (opts.nonHtml && !wantsHtml(request)) return opts.nonHtml(request);
        return page();
      })
      // A task's deep link (SPEC §16): the same page; the dashboard opens the detail from the path.
      .get('/tasks/:mjId', ({ params }) => {
        if (!TASK_LINK_ID.test(params.mjId)) {
          return new Response(JSON.stringify({ success: false, message: 'not found' }), {
            status: 404,
            headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
          });
        }
        return page();
      })
      .get('/assets/:file', async ({ params, request }) => {
        let b: WebBundle;
        try {
          b = await ensure();
        } catch (err) {
          return unavailable(err);
        }
        if (!b.assets.has(params.file)) {
          return new Response(JSON.stringify({ success: false, message: 'not found' }), {
            status: 404,
            headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
          });
        }
        const ext = params.file.slice(params.file.lastIndexOf('.') + 1);
        const headers: Record<string, string> = {
          'content-type': TYPES[ext] ?? 'application/octet-stream',
          'cache-control': 'public, max-age=31536000, immutable',
          'x-content-type-options': 'nosniff',
          vary: 'accept-encoding',
        };
        const gzip = b.gzipped.has(params.file) && /\bgzip\b/.test(request.headers.get('accept-encoding') ?? '');
        if (gzip) headers['content-encoding'] = 'gzip';
        return new Response(Bun.file(join(b.dir, 'assets', gzip ? `${params.file}.gz` : params.file)), { headers });
      })
  );
}
