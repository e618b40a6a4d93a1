import { type ByteSource, fillerStream, serveBytes } from './http-bytes.ts';
import { type ImageLayout, pngHeader, renderImage } from './png.ts';
import type { TaskStore } from './task-store.ts';
import type { SimTask, TaskAction } from './types.ts';

/** Largest `big-<bytes>.png` served: 1 GiB, enough for the forwarder benchmark. */
export const MAX_BIG_BYTES = 1024 * 1024 * 1024;
const CACHE_LIMIT = 512;
/** Bytes of rendered images kept: full-size grids (SIM_IMAGE_SIZE=2048) weigh ~8 MB each. */
const CACHE_BYTES = 512 * 1024 * 1024;

const SINGLE: ReadonlySet<TaskAction> = new Set(['UPSCALE', 'UPSCALE_HD', 'DESCRIBE', 'SWAP_FACE', 'VIDEO']);

/** A tiny MP4 (just an `ftyp` box): enough for a client to store and forward a video URL. */
const TINY_MP4 = new Uint8Array([
  0, 0, 0, 24, 0x66, 0x74, 0x79, 0x70, 0x69, 0x73, 0x6f, 0x6d, 0, 0, 2, 0, 0x69, 0x73, 0x6f, 0x6d, 0x69, 0x73, 0x6f,
  0x32,
]);

function strongEtag(bytes: Uint8Array): string {
  return `"${(Bun.hash.crc32(bytes) >>> 0).toString(16)}-${bytes.length.toString(16)}"`;
}

function memorySource(
  bytes: Uint8Array<ArrayBuffer>,
  contentType: string,
  lastModified: string,
  etag = strongEtag(bytes),
): ByteSource {
  return { size: bytes.length, contentType, etag, lastModified, body: (start, end) => bytes.subarray(start, end + 1) };
}

function notFound(): Response {
  return new Response('not found', { status: 404, headers: { 'Content-Type': 'text/plain' } });
}

/**
 * Serves generated images under /images and clips under /videos. Images are rendered on first
 * request and kept in a small LRU bounded by count and bytes (they are deterministic, so a miss
 * only costs CPU: about a second for a 2048² grid).
 */
export class MediaServer {
  private readonly cache = new Map<string, ByteSource>();
  private cachedBytes = 0;
  private readonly lastModified = new Date(Math.floor(Date.now() / 1000) * 1000).toUTCString();

  constructor(
    private readonly store: TaskStore,
    private readonly size: number,
  ) {}

  /** Forgets cached renders (used when the task store is cleared). */
  clear(): void {
    this.cache.clear();
    this.cachedBytes = 0;
  }

  /** GET/HEAD /images/<name>.png */
  image(req: Request, url: URL, file: string): Response {
    const m = /^(.+)\.png$/.exec(file);
    if (!m?.[1]) return notFound();
    const name = m[1];
    const big = /^big(?:-(\d+))?$/.exec(name);
    if (big) return this.big(req, big[1] ?? url.searchParams.get('bytes'));
    const cached = this.cache.get(name);
    if (cached) {
      this.cache.delete(name);
      this.cache.set(name, cached);
      return serveBytes(req, cached);
    }
    const bytes = this.render(name);
    if (!bytes) return notFound();
    const src = memorySource(bytes, 'image/png', this.lastModified);
    this.cache.set(name, src);
    this.cachedBytes += src.size;
    for (const [oldName, old] of this.cache) {
      if (this.cache.size <= CACHE_LIMIT && this.cachedBytes <= CACHE_BYTES) break;
      if (oldName === name) break;
      this.cache.delete(oldName);
      this.cachedBytes -= old.size;
    }
    return serveBytes(req, src);
  }

  /** GET/HEAD /videos/<taskId>.mp4 for VIDEO tasks. */
  video(req: Request, file: string): Response {
    const m = /^(\d+)\.mp4$/.exec(file);
    const task = m?.[1] ? this.store.get(m[1]) : undefined;
    if (task?.action !== 'VIDEO') return notFound();
    return serveBytes(req, memorySource(TINY_MP4, 'video/mp4', this.lastModified));
  }

  private render(name: string): Uint8Array<ArrayBuffer> | null {
    const upload = /^upload_([0-9a-f]{8,64})$/.exec(name);
    if (upload?.[1]) return renderImage(upload[1], upload[1], this.size, 'single');
    const preview = /^(\d{16})_grid_0$/.exec(name);
    if (preview?.[1]) {
      const task = this.store.get(preview[1]);
      return task ? this.renderTask(task, 'preview') : null;
    }
    const final = /^user_.*_([0-9a-f-]{36})$/.exec(name);
    if (final?.[1]) {
      const task = this.store.getByHash(final[1]);
      if (!task || `user_${task.slug}_${task.hash}` !== name) return null;
      return this.renderTask(task, SINGLE.has(task.action) ? 'single' : 'grid');
    }
    return null;
  }

  private renderTask(task: SimTask, layout: ImageLayout): Uint8Array<ArrayBuffer> {
    const subject = task.prompt || task.finalPrompt || task.id;
    return renderImage(subject, task.hash, this.size, layout);
  }

  /** A PNG signature + IHDR followed by zero filler, streamed without buffering. */
  private big(req: Request, sizeText: string | null): Response {
    const size = sizeText === null ? NaN : Number(sizeText);
    if (!Number.isSafeInteger(size) || size < 0 || size > MAX_BIG_BYTES) {
      return new Response(`bytes must be 0..${MAX_BIG_BYTES}`, {
        status: 400,
        headers: { 'Content-Type': 'text/plain' },
      });
    }
    const header = pngHeader(1024, 1024);
    return serveBytes(req, {
      size,
      contentType: 'image/png',
      etag: `"big-${size.toString(16)}"`,
      lastModified: this.lastModified,
      body: (start, end) => fillerStream(header, start, end),
    });
  }
}
