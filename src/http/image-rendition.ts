import type { AppDeps } from '../deps.ts';
import {
  parseRenditionQuery,
  type RenditionFallback,
  type RenditionQuery,
  type RenditionSource,
  type RenditionSpec,
  type Renditions,
  renderable,
} from '../images/rendition.ts';
import type { ImageStore } from '../images/store.ts';
import { serveCounted } from './image-answers.ts';

/**
 * `GET`/`HEAD /mj/image/:id?w=&part=` (SPEC §18): a rendition from the store, or made now by
 * images/rendition.ts from the original (itself read from the store, or fetched once through the
 * §9 forwarder, which stores it on the way). Whatever cannot be rendered (a task not finished, a
 * video, an upstream error, bytes sharp does not decode) is answered as §9 answers the original.
 */

/**
 * The §9 forwarder for this id: the client's request (`internal` false), or the rendition's own
 * read of the original (`internal` true: no app headers, bytes left out of the served-bytes metric).
 */
type Forward = (request: Request, internal: boolean) => Promise<Response>;

interface RenditionContext {
  store: ImageStore | null;
  renditions: Renditions;
}

/** Largest original read into memory to make renditions from; a larger one is served as it is. */
const MAX_SOURCE_BYTES = 64 * 1024 * 1024;

/** `w` / `part` of a request URL; the query is parsed only when there is one (the hot path has none). */
export function imageQuery(url: string): RenditionQuery {
  const q = url.indexOf('?');
  return q < 0 ? { kind: 'none' } : parseRenditionQuery(new URLSearchParams(url.slice(q + 1)));
}

/** The whole body, or null past `max` bytes (then the rest is not read). */
async function readCapped(body: ReadableStream<Uint8Array>, max: number): Promise<Uint8Array | null> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of body) {
    total += chunk.byteLength;
    if (total > max) {
      await body.cancel().catch(() => {});
      return null;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, total);
}

/** The original to render from: the stored one, else the upstream's (stored on the way by the forwarder). */
async function loadSource(
  deps: AppDeps,
  ctx: RenditionContext,
  mjId: string,
  forward: Forward,
): Promise<RenditionSource | RenditionFallback> {
  const stored = ctx.store ? await ctx.store.get(mjId) : null;
  if (stored) {
    return renderable(stored.contentType, stored.contentEncoding)
      ? { kind: 'blob', blob: stored.body, lastModified: stored.lastModified }
      : { kind: 'as-original' };
  }
  // Only a SUCCESS task's final image has renditions; a preview is answered as §9 answers it.
  const task = await deps.taskStore.tasks.imageTask(mjId);
  if (task?.status !== 'SUCCESS' || !task.imageUrl) return { kind: 'as-original' };
  const res = await forward(new Request(`http://gateway/mj/image/${encodeURIComponent(mjId)}`), true);
  if (res.status >= 400) {
    const headers: Array<[string, string]> = [];
    res.headers.forEach((v, k) => {
      headers.push([k, v]);
    });
    return { kind: 'answer', status: res.status, headers, body: await res.text() };
  }
  const declared = Number(res.headers.get('content-length') ?? '0');
  const type = res.headers.get('content-type') ?? '';
  if (
    res.status !== 200 ||
    !res.body ||
    !renderable(type, res.headers.get('content-encoding')) ||
    declared > MAX_SOURCE_BYTES
  ) {
    await res.body?.cancel().catch(() => {});
    return { kind: 'as-original' };
  }
  const bytes = await readCapped(res.body, MAX_SOURCE_BYTES);
  return bytes ? { kind: 'bytes', bytes, lastModified: res.headers.get('last-modified') } : { kind: 'as-original' };
}

export async function answerRendition(
  deps: AppDeps,
  ctx: RenditionContext,
  mjId: string,
  spec: RenditionSpec,
  request: Request,
  outer: Readonly<Record<string, string>>,
  forward: Forward,
): Promise<Response> {
  const made = await ctx.renditions.get(mjId, spec, () => loadSource(deps, ctx, mjId, forward));
  switch (made.kind) {
    case 'image':
      if (made.image.presignedUrl && deps.config.imageRedirect)
        return new Response(null, {
          status: 302,
          headers: { ...outer, location: made.image.presignedUrl(), 'cache-control': 'no-store' },
        });
      return serveCounted(deps, request, made.image, outer);
    case 'as-original':
      return forward(request, false);
    case 'answer': {
      // The forwarder's error, shared by every request that waited for it, with this request's own headers.
      const headers = new Headers(made.headers as Array<[string, string]>);
      for (const [k, v] of Object.entries(outer)) if (!headers.has(k)) headers.set(k, v);
      return new Response(request.method === 'HEAD' ? null : made.body, { status: made.status, headers });
    }
  }
}
