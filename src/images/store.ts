/**
 * The image store (SPEC §9): final images of SUCCESS tasks, kept so they are served locally and
 * stay viewable after the upstream's links expire. Keyed by the task's mj_id: a SUCCESS task's
 * final image never changes, while its upstream URL may (signed CDN links are re-issued).
 *
 * The folder implementation (folder-store.ts) serves one process. For several replicas the same
 * interface fits an S3-compatible bucket through Bun's `S3Client`: `get` answers from a small
 * in-memory index (or a HEAD of the object) with `body` an `S3File` (a Blob, so `slice` gives
 * ranges and a Response streams it), and `begin` returns a writer over `S3File.writer()`
 * (multipart upload, visible only once completed: the same all-or-nothing rule as the folder's
 * temp file + rename). Eviction there is better left to a bucket lifecycle rule.
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

export interface StoredImage extends Readonly<ImageMeta> {
  readonly size: number;
  /** The bytes, as a Blob (a `BunFile` here: a Response sends it with sendfile; `slice` for ranges). */
  readonly body: Blob;
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
  get(key: string): StoredImage | null;
  /**
   * Starts storing `key`. Null when it cannot or need not be stored now: another request is already
   * storing it (one upstream copy per key), or `size` is known and larger than the whole store.
   */
  begin(key: string, meta: ImageMeta, size: number | null): ImageWriter | null;
  delete(key: string): void;
  /** Bytes held (for tests and metrics). */
  readonly totalBytes: number;
}
