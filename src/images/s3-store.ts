import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../lib/logger.ts';
import { fileNameOf } from './folder-store.ts';
import { removeQuietly, Spool } from './spool.ts';
import { type ImageMeta, type ImageStore, type ImageWriter, parseSidecar, type StoredImage } from './store.ts';

/**
 * ImageStore in an S3-compatible bucket through Bun's `S3Client` (SPEC §18), shared by every
 * replica: `<prefix><name>.bin` holds the bytes and `<prefix><name>.json` their metadata (the
 * upstream's validators, which the bucket's own ETag and Last-Modified are not). The sidecar is
 * written last, so an image exists for every replica only once both are complete.
 *
 * A write is spooled to a local temp file and uploaded on commit: an aborted write sends nothing
 * to the bucket (all-or-nothing, like the folder's temp file + rename), and memory stays flat
 * whatever the image's size. Each replica keeps a local copy of what it served, bounded by
 * `localMaxBytes` (least recently used removed), so a hot image costs no request to the bucket
 * and goes out with sendfile, Content-Length and ranges as from the folder; Bun frames a
 * streamed body chunked, without its length. Without room for a local copy (or when answers are
 * redirects to presigned URLs) the body streams from the bucket. Eviction in the bucket is left
 * to a lifecycle rule.
 */

export interface S3Location {
  readonly bucket: string;
  /** Key prefix, `''` or ending in `/`. */
  readonly prefix: string;
  readonly endpoint: string;
  readonly region: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

export interface S3StoreOptions extends S3Location {
  /** Bound of this replica's local copies in bytes; 0 = none (every answer streams from the bucket). */
  readonly localMaxBytes: number;
  /** Folder of the local copies and spooled writes (emptied first); a fresh temp folder (removed at exit) by default. */
  readonly localDir?: string;
  /** Lifetime of presigned URLs (IMAGE_REDIRECT). */
  readonly presignExpiresSec?: number;
}

/** Largest image stored (the spool is local disk; a hostile upstream must not fill it). */
const MAX_IMAGE_BYTES = 256 * 1024 * 1024;
/** Images known in memory (metadata only, beyond those with a local copy). */
const MAX_ENTRIES = 10_000;
/** A streamed entry is looked up again after this long (the bucket's lifecycle may remove it). */
const REMOTE_RECHECK_MS = 60_000;
/** How long an evicted local copy stays on disk for answers already under way. */
const RETIRE_DELAY_MS = 5000;

interface Entry extends StoredImage {
  /** The local copy, or null: the body is the bucket's object, streamed. */
  readonly path: string | null;
  readonly knownAt: number;
  presigned: { url: string; at: number } | null;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function isMissing(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === 'NoSuchKey';
}

export class S3ImageStore implements ImageStore {
  private readonly client: Bun.S3Client;
  private readonly entries = new Map<string, Entry>();
  private readonly writing = new Set<string>();
  private readonly looking = new Map<string, Promise<StoredImage | null>>();
  private readonly dir: string;
  private readonly tmp: string;
  private readonly prefix: string;
  private readonly localMax: number;
  private readonly expiresSec: number;
  private bytes = 0;
  private seq = 0;

  constructor(
    opts: S3StoreOptions,
    private readonly logger: Logger,
  ) {
    this.client = new Bun.S3Client({
      bucket: opts.bucket,
      endpoint: opts.endpoint,
      region: opts.region,
      accessKeyId: opts.accessKeyId,
      secretAccessKey: opts.secretAccessKey,
    });
    this.prefix = opts.prefix;
    this.localMax = opts.localMaxBytes;
    this.expiresSec = opts.presignExpiresSec ?? 3600;
    if (opts.localDir) {
      this.dir = opts.localDir;
      rmSync(opts.localDir, { recursive: true, force: true });
    } else {
      this.dir = mkdtempSync(join(tmpdir(), 'mj-gateway-s3-'));
      const dir = this.dir;
      process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    }
    this.tmp = join(this.dir, 'tmp');
    mkdirSync(this.tmp, { recursive: true });
  }

  /** Asks the bucket for one key, so a wrong endpoint, bucket or key shows in the log at start-up. */
  async check(): Promise<boolean> {
    try {
      await this.client.list({ prefix: this.prefix, maxKeys: 1 });
      return true;
    } catch (err) {
      this.logger.warn('image store: the bucket does not answer; images are served from upstream meanwhile', {
        error: errorText(err),
      });
      return false;
    }
  }

  /** Bytes of this replica's local copies. */
  get totalBytes(): number {
    return this.bytes;
  }

  private key(name: string, ext: 'bin' | 'json'): string {
    return `${this.prefix}${name}.${ext}`;
  }

  private localPath(name: string): string {
    return join(this.dir, `${name}.bin`);
  }

  async get(key: string): Promise<StoredImage | null> {
    const name = fileNameOf(key);
    const entry = this.entries.get(name);
    if (entry) {
      const stale = entry.path === null ? Date.now() - entry.knownAt > REMOTE_RECHECK_MS : !existsSync(entry.path);
      if (!stale) {
        this.entries.delete(name);
        this.entries.set(name, entry);
        return entry;
      }
      this.forget(name, entry);
    }
    let found = this.looking.get(name);
    if (!found) {
      found = this.lookup(name).finally(() => this.looking.delete(name));
      this.looking.set(name, found);
    }
    return found;
  }

  /** Reads the sidecar from the bucket; a local copy is made when there is room for one. */
  private async lookup(name: string): Promise<StoredImage | null> {
    let meta: (ImageMeta & { size: number }) | null;
    try {
      meta = parseSidecar(await this.client.file(this.key(name, 'json')).text());
    } catch (err) {
      if (!isMissing(err)) this.logger.warn('image store: bucket lookup failed', { name, error: errorText(err) });
      return null;
    }
    if (!meta) return null;
    if (this.entries.has(name)) return this.entries.get(name) ?? null; // committed here meanwhile
    if (this.localMax > 0 && meta.size <= this.localMax) {
      const temp = join(this.tmp, `${name}.get.${++this.seq}`);
      try {
        await Bun.write(temp, this.client.file(this.key(name, 'bin')));
        if (statSync(temp).size !== meta.size) throw new Error(`expected ${meta.size} bytes`);
        renameSync(temp, this.localPath(name));
        return this.remember(name, meta, this.localPath(name));
      } catch (err) {
        removeQuietly(temp);
        // Gone from the bucket (a lifecycle rule) or cut short: not an image here.
        if (!isMissing(err)) this.logger.warn('image store: download failed', { name, error: errorText(err) });
        return null;
      }
    }
    return this.remember(name, meta, null);
  }

  private remember(name: string, meta: ImageMeta & { size: number }, path: string | null): Entry {
    const old = this.entries.get(name);
    if (old) this.forget(name, old);
    const objectKey = this.key(name, 'bin');
    const entry: Entry = {
      contentType: meta.contentType,
      etag: meta.etag,
      lastModified: meta.lastModified,
      contentEncoding: meta.contentEncoding ?? null,
      size: meta.size,
      path,
      body: path !== null ? Bun.file(path) : this.client.file(objectKey),
      remote: path === null,
      knownAt: Date.now(),
      presigned: null,
      // An encoded image is streamed through the gateway: the bucket's object does not carry the encoding.
      presignedUrl: meta.contentEncoding ? undefined : () => this.presign(entry, objectKey),
    };
    this.entries.set(name, entry);
    if (path !== null) this.bytes += meta.size;
    this.evict();
    return entry;
  }

  /** One URL per image for half its lifetime, so browsers can cache what it points at. */
  private presign(entry: Entry, objectKey: string): string {
    const now = Date.now();
    if (entry.presigned && now - entry.presigned.at < (this.expiresSec * 1000) / 2) return entry.presigned.url;
    const url = this.client.presign(objectKey, { method: 'GET', expiresIn: this.expiresSec });
    entry.presigned = { url, at: now };
    return url;
  }

  /** Out of the index at once; a local copy off the disk a moment later (answers may be under way). */
  private forget(name: string, entry: Entry): void {
    if (this.entries.get(name) === entry) this.entries.delete(name);
    const path = entry.path;
    if (path === null) return;
    this.bytes -= entry.size;
    setTimeout(() => {
      if (this.entries.get(name)?.path !== path) removeQuietly(path);
    }, RETIRE_DELAY_MS).unref();
  }

  private evict(): void {
    for (const [name, entry] of this.entries) {
      if (this.bytes <= this.localMax && this.entries.size <= MAX_ENTRIES) break;
      if (entry.path !== null || this.entries.size > MAX_ENTRIES) this.forget(name, entry);
    }
  }

  delete(key: string): void {
    const name = fileNameOf(key);
    const entry = this.entries.get(name);
    if (entry) this.forget(name, entry);
    void (async () => {
      await this.client.delete(this.key(name, 'json'));
      await this.client.delete(this.key(name, 'bin'));
    })().catch((err: unknown) => this.logger.warn('image store: delete failed', { name, error: errorText(err) }));
  }

  begin(key: string, meta: ImageMeta, size: number | null): ImageWriter | null {
    const name = fileNameOf(key);
    if (this.writing.has(name) || this.entries.has(name) || (size !== null && size > MAX_IMAGE_BYTES)) return null;
    this.writing.add(name);
    const temp = join(this.tmp, `${name}.put.${++this.seq}`);
    const spool = new Spool(temp, MAX_IMAGE_BYTES);
    return spool.writer(
      () => this.writing.delete(name),
      async (written) => {
        // Still "writing" until the sidecar is up: no second writer for this key starts meanwhile.
        const stored = { ...meta, contentEncoding: meta.contentEncoding ?? null, size: written };
        try {
          await spool.end(size);
          await this.client.write(this.key(name, 'bin'), Bun.file(temp), { type: meta.contentType });
          await this.client.write(this.key(name, 'json'), JSON.stringify(stored), { type: 'application/json' });
        } catch (err) {
          removeQuietly(temp);
          this.logger.warn('image store write failed', { key, error: errorText(err) });
          this.writing.delete(name);
          return false;
        }
        // The spool becomes this replica's local copy when there is room for it.
        let path: string | null = null;
        if (this.localMax > 0 && written <= this.localMax) {
          renameSync(temp, this.localPath(name));
          path = this.localPath(name);
        } else removeQuietly(temp);
        this.writing.delete(name);
        this.remember(name, stored, path);
        return true;
      },
    );
  }
}
