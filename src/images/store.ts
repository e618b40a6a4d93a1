/**
 * The image store (SPEC §9): final images of SUCCESS tasks, kept so they are served locally and
 * stay viewable after the upstream's links expire. Keyed by the task's mj_id: a SUCCESS task's
 * final image never changes, while its upstream URL may (signed CDN links are re-issued).
 *
 * The folder implementation (folder-store.ts) serves one process; s3-store.ts keeps the images
 * in an S3-compatible bucket shared by every replica (with a local copy of what each serves).
 * `get` is asynchronous for that reason: a lookup there may be a request to the bucket.
 */

/** What is known about a stored image without reading it. */
export interface ImageMeta {
  contentType: string;
  /** The upstream's validators, kept as they came so stored and streamed answers match. */
  etag: string | null;
  lastModified: string | null;
  /**
   * The upstream's Content-Encoding when the bytes are kept encoded (a gzip body is stored and
   * served as it came, never decoded here: a small body may decode to any size). Absent: identity.
   */
  contentEncoding?: string | null;
}

/**
 * The sidecar of a stored image (`<name>.json` beside its bytes, in a folder or a bucket): its
 * meta and size. Null when the text is not one (a torn or foreign file).
 */
export function parseSidecar(text: string): (ImageMeta & { size: number }) | null {
  try {
    const m = JSON.parse(text) as Record<string, unknown>;
    const nullableText = (v: unknown) => (typeof v === 'string' ? v : null);
    if (typeof m.contentType !== 'string' || typeof m.size !== 'number' || !Number.isInteger(m.size)) return null;
    return {
      contentType: m.contentType,
      etag: nullableText(m.etag),
      lastModified: nullableText(m.lastModified),
      contentEncoding: nullableText(m.contentEncoding),
      size: m.size,
    };
  } catch {
    return null;
  }
}

export interface StoredImage extends Readonly<ImageMeta> {
  readonly size: number;
  /** The bytes, as a Blob (a `BunFile`: a Response sends it with sendfile; `slice` for ranges). */
  readonly body: Blob;
  /**
   * The body is an object in a bucket (an `S3File`): it is sent as `body.stream()` (a Response
   * given the S3File itself answers with a redirect), and Bun frames it chunked, without its length.
   */
  readonly remote?: boolean;
  /** A presigned URL of the bytes in the bucket (S3 store), for `IMAGE_REDIRECT`. */
  readonly presignedUrl?: () => string;
}

/** A store being filled while the upstream bytes stream to the first client. */
export interface ImageWriter {
  /** Appends a chunk; a returned promise means "wait before the next one" (back-pressure). */
  write(chunk: Uint8Array): void | Promise<void>;
  /** Makes the image visible if it is complete (`size` bytes when the upstream announced a length). */
  commit(): Promise<boolean>;
  /** Drops what was written; nothing becomes visible. */
  abort(): void;
}

export interface ImageStore {
  /**
   * The stored image, or null; counts as a use for least-recently-used eviction. The same object
   * may come back for every request of an image (callers may cache what they derive from it).
   */
  get(key: string): Promise<StoredImage | null>;
  /**
   * Starts storing `key`. Null when it cannot or need not be stored now: another request is already
   * storing it (one upstream copy per key), or `size` is known and larger than the whole store.
   */
  begin(key: string, meta: ImageMeta, size: number | null): ImageWriter | null;
  delete(key: string): void;
  /** Bytes held (for tests and metrics). */
  readonly totalBytes: number;
}
