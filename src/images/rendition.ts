import { availableParallelism } from 'node:os';
import type { Sharp, default as SharpFn } from 'sharp';
import { Semaphore } from './semaphore.ts';
import type { ImageStore, StoredImage } from './store.ts';

/**
 * Renditions of a final image (SPEC §18): `?w=` a WebP at most that wide (snapped up to 128, 256,
 * 512 or 1024), `?part=1..4` one quadrant of a 2×2 grid, or both. Each is made once with sharp
 * (libvips, on its own threads: the event loop only waits) and kept in the image store beside the
 * original under a key derived from the mj_id, so later requests are file answers like the
 * original's. Concurrent first requests for one rendition share one making (single-flight per
 * key), and so do the renditions of one original for its source bytes (single-flight per mj_id).
 *
 * Memory is bounded by two semaphores: at most SOURCE_SLOTS originals are held (in memory when
 * they came from the upstream, as a Blob when the store has them) and at most RENDER_SLOTS are
 * decoded and resized at once, whatever the number of requests waiting.
 */

export const RENDITION_WIDTHS = [128, 256, 512, 1024] as const;
export type RenditionWidth = (typeof RENDITION_WIDTHS)[number];
export const MIN_W = 64;
export const MAX_W = 1024;

export interface RenditionSpec {
  /** Bucket width; null keeps the (quadrant's) own width. */
  readonly width: RenditionWidth | null;
  /** Quadrant 1..4 (left to right, top to bottom); null = the whole image. */
  readonly part: 1 | 2 | 3 | 4 | null;
}

export type RenditionQuery =
  | { kind: 'none' }
  | { kind: 'spec'; spec: RenditionSpec }
  | { kind: 'invalid'; param: 'w' | 'part'; message: string };

const W_MESSAGE = `w must be a whole number from ${MIN_W} to ${MAX_W}`;
const PART_MESSAGE = 'part must be 1, 2, 3 or 4';

/** The bucket a requested width is served at: the nearest of RENDITION_WIDTHS at or above it. */
export function snapWidth(w: number): RenditionWidth {
  for (const b of RENDITION_WIDTHS) if (w <= b) return b;
  return MAX_W;
}

/** Reads `w` and `part` from a query; neither present → 'none' (the original, as SPEC §9). */
export function parseRenditionQuery(params: URLSearchParams): RenditionQuery {
  const ws = params.getAll('w');
  const parts = params.getAll('part');
  if (ws.length === 0 && parts.length === 0) return { kind: 'none' };
  let width: RenditionWidth | null = null;
  if (ws.length > 0) {
    const w = ws.length === 1 && /^\d{1,5}$/.test(ws[0] ?? '') ? Number(ws[0]) : Number.NaN;
    if (!(w >= MIN_W && w <= MAX_W)) return { kind: 'invalid', param: 'w', message: W_MESSAGE };
    width = snapWidth(w);
  }
  let part: RenditionSpec['part'] = null;
  if (parts.length > 0) {
    const p = parts.length === 1 ? parts[0] : undefined;
    if (p !== '1' && p !== '2' && p !== '3' && p !== '4')
      return { kind: 'invalid', param: 'part', message: PART_MESSAGE };
    part = Number(p) as 1 | 2 | 3 | 4;
  }
  return { kind: 'spec', spec: { width, part } };
}

/**
 * The store key of a rendition: the mj_id, `~`, then what it is (`1900~p2w256`, `1900~w128`,
 * `1900~p3`). `~` never occurs in an mj_id the image route accepts, so no task's original can
 * take a rendition's key.
 */
export function renditionKey(mjId: string, spec: RenditionSpec): string {
  return `${mjId}~${spec.part === null ? '' : `p${spec.part}`}${spec.width === null ? '' : `w${spec.width}`}`;
}

/** The bytes a rendition is made from; `lastModified` becomes the rendition's. */
export type RenditionSource =
  | { kind: 'blob'; blob: Blob; lastModified: string | null }
  | { kind: 'bytes'; bytes: Uint8Array; lastModified: string | null };

/** Why there is no rendition: answer as SPEC §9 does for the original, or with this answer. */
export type RenditionFallback =
  | { kind: 'as-original' }
  | { kind: 'answer'; status: number; headers: ReadonlyArray<[string, string]>; body: string };

export type RenditionResult = { kind: 'image'; image: StoredImage } | RenditionFallback;

/** Content types sharp is asked to decode; anything else (a video, an encoded body) is served as it is. */
export function renderable(contentType: string, contentEncoding: string | null | undefined): boolean {
  return !contentEncoding && /^image\/(png|jpeg|jpg|webp|gif|avif|tiff)\b/i.test(contentType.trim());
}

/** Decoding larger pictures is refused (a 2048² grid is 4.2 Mpx; this bounds a hostile upstream's). */
const MAX_INPUT_PIXELS = 64 * 1024 * 1024;
const WEBP = { quality: 80, effort: 4 } as const;

type SharpFactory = typeof SharpFn;
let loading: Promise<SharpFactory> | null = null;

/**
 * sharp (and libvips with it) is loaded on the first rendition, not at start-up: a gateway whose
 * clients never ask for one does not carry it. The store keeps what is made, so libvips' own
 * operation cache is off (it would only hold decoded pictures longer).
 */
function loadSharp(): Promise<SharpFactory> {
  loading ??= import('sharp').then((m): SharpFactory => {
    m.default.cache(false);
    return m.default;
  });
  return loading;
}

/** Makes one rendition's WebP bytes; throws when sharp cannot decode the source. */
export async function renderWebp(input: Uint8Array, spec: RenditionSpec): Promise<Buffer> {
  const sharp = await loadSharp();
  let img: Sharp = sharp(input, { limitInputPixels: MAX_INPUT_PIXELS });
  if (spec.part !== null) {
    const { width, height } = await img.metadata();
    const w = Math.floor((width ?? 0) / 2);
    const h = Math.floor((height ?? 0) / 2);
    if (w < 1 || h < 1) throw new Error('image too small to split');
    const i = spec.part - 1;
    img = img.extract({ left: (i % 2) * w, top: Math.floor(i / 2) * h, width: w, height: h });
  }
  if (spec.width !== null) img = img.resize({ width: spec.width, withoutEnlargement: true });
  return img.webp(WEBP).toBuffer();
}

/** A strong validator from the bytes themselves: replicas that make the same rendition agree on it. */
function etagOf(bytes: Uint8Array): string {
  return `"r${Bun.hash(bytes).toString(16)}-${bytes.byteLength.toString(16)}"`;
}

export interface RenditionOptions {
  /** Counts each making (made) and each source sharp refused (failed). */
  onRender?: (outcome: 'made' | 'failed') => void;
  /** Renditions decoded and encoded at once; default min(2, cores). */
  renderSlots?: number;
  /** Originals held at once for the renditions being made; default 4. */
  sourceSlots?: number;
}

interface SourceFlight {
  refs: number;
  promise: Promise<RenditionSource | RenditionFallback>;
  release: (() => void) | null;
  /** A stored original's bytes, read once for every rendition made from it meanwhile. */
  bytes?: Promise<Uint8Array>;
}

export class Renditions {
  private readonly flights = new Map<string, Promise<RenditionResult>>();
  private readonly sources = new Map<string, SourceFlight>();
  private readonly renderSlots: Semaphore;
  private readonly sourceSlots: Semaphore;

  constructor(
    private readonly store: ImageStore | null,
    private readonly opts: RenditionOptions = {},
  ) {
    this.renderSlots = new Semaphore(opts.renderSlots ?? Math.max(1, Math.min(2, availableParallelism())));
    this.sourceSlots = new Semaphore(Math.max(1, opts.sourceSlots ?? 4));
  }

  /** Renditions being made now (for tests and metrics). */
  get inFlight(): number {
    return this.flights.size;
  }

  /**
   * The rendition of `mjId` for `spec`: from the store, or made now from what `load` gives (called
   * at most once for all the renditions of one original being made at the same time).
   */
  get(
    mjId: string,
    spec: RenditionSpec,
    load: () => Promise<RenditionSource | RenditionFallback>,
  ): Promise<RenditionResult> {
    const key = renditionKey(mjId, spec);
    let flight = this.flights.get(key);
    if (!flight) {
      flight = this.make(mjId, key, spec, load).finally(() => this.flights.delete(key));
      this.flights.set(key, flight);
    }
    return flight;
  }

  private async make(
    mjId: string,
    key: string,
    spec: RenditionSpec,
    load: () => Promise<RenditionSource | RenditionFallback>,
  ): Promise<RenditionResult> {
    // Made and stored by a flight that ended just before this one began.
    const stored = this.store ? await this.store.get(key) : null;
    if (stored) return { kind: 'image', image: stored };
    const source = this.takeSource(mjId, load);
    try {
      const src = await source.promise;
      if (src.kind !== 'blob' && src.kind !== 'bytes') return src;
      const done = await this.renderSlots.acquire();
      let out: Buffer;
      try {
        let input: Uint8Array;
        if (src.kind === 'bytes') input = src.bytes;
        else {
          const blob = src.blob;
          input = await (source.bytes ??= blob.arrayBuffer().then((b) => new Uint8Array(b)));
        }
        out = await renderWebp(input, spec);
      } catch {
        this.opts.onRender?.('failed');
        return { kind: 'as-original' };
      } finally {
        done();
      }
      this.opts.onRender?.('made');
      return { kind: 'image', image: await this.keep(key, out, src.lastModified) };
    } finally {
      this.dropSource(mjId, source);
    }
  }

  /** Stores the rendition (through the writer API, so any store fits) and answers from memory. */
  private async keep(key: string, bytes: Buffer, lastModified: string | null): Promise<StoredImage> {
    const meta = { contentType: 'image/webp', etag: etagOf(bytes), lastModified, contentEncoding: null };
    const writer = this.store?.begin(key, meta, bytes.byteLength) ?? null;
    if (writer) {
      try {
        const wait = writer.write(bytes);
        if (wait) await wait;
        await writer.commit();
      } catch {
        writer.abort();
      }
    }
    return {
      ...meta,
      size: bytes.byteLength,
      body: new Blob([new Uint8Array(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength)], {
        type: 'image/webp',
      }),
    };
  }

  private takeSource(mjId: string, load: () => Promise<RenditionSource | RenditionFallback>): SourceFlight {
    const running = this.sources.get(mjId);
    if (running) {
      running.refs++;
      return running;
    }
    const flight: SourceFlight = { refs: 1, release: null, promise: Promise.resolve({ kind: 'as-original' }) };
    flight.promise = (async () => {
      flight.release = await this.sourceSlots.acquire();
      return load();
    })();
    this.sources.set(mjId, flight);
    return flight;
  }

  /** The last rendition done with a source lets its bytes go, and its slot to the next original. */
  private dropSource(mjId: string, flight: SourceFlight): void {
    if (--flight.refs > 0) return;
    if (this.sources.get(mjId) === flight) this.sources.delete(mjId);
    flight.release?.();
    flight.release = null;
  }
}
