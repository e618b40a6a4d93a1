import { unlinkSync } from 'node:fs';
import type { ImageWriter } from './store.ts';

/** Written to disk and waited for every this many bytes, so a slow disk holds the stream back. */
const FLUSH_BYTES = 1 << 20;

export function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

/**
 * The temp file an image streams into while it is stored (both image stores): chunks go to disk
 * with back-pressure, an image past `limit` bytes is given up, and nothing is visible until the
 * store moves the finished file into place.
 */
export class Spool {
  /** Bytes offered so far (including those of a chunk that went past the limit). */
  written = 0;
  private pending = 0;
  private readonly sink;

  constructor(
    readonly path: string,
    private readonly limit: number,
  ) {
    this.sink = Bun.file(path).writer({ highWaterMark: 256 * 1024 });
  }

  /**
   * Appends a chunk: 'over' once the image is past the limit (nothing more is written; the caller
   * drops the spool), a promise to wait for before the next chunk, or nothing.
   */
  write(chunk: Uint8Array): 'over' | Promise<void> | undefined {
    this.written += chunk.byteLength;
    if (this.written > this.limit) return 'over';
    this.sink.write(chunk);
    this.pending += chunk.byteLength;
    if (this.pending < FLUSH_BYTES) return undefined;
    this.pending = 0;
    const flushed = this.sink.flush();
    return flushed instanceof Promise ? flushed.then(() => {}) : undefined;
  }

  /** Closes the file; throws when the upstream announced a size and sent another. */
  async end(size: number | null): Promise<void> {
    await this.sink.end();
    if (size !== null && this.written !== size) throw new Error(`expected ${size} bytes, got ${this.written}`);
  }

  /** Closes and removes the file, quietly. */
  drop(): void {
    try {
      void Promise.resolve(this.sink.end())
        .catch(() => {})
        .finally(() => removeQuietly(this.path));
    } catch {
      removeQuietly(this.path);
    }
  }

  /**
   * The ImageWriter around this spool (both stores' `begin`): chunks go in until the image is past
   * the limit or the writer is aborted, when `release` runs and the spool is dropped (the client
   * still gets every byte). `commit` runs at most once, given the bytes written; it moves the file
   * into place and releases the key itself.
   */
  writer(release: () => void, commit: (written: number) => Promise<boolean>): ImageWriter {
    let open = true;
    const drop = () => {
      open = false;
      release();
      this.drop();
    };
    return {
      write: (chunk) => {
        if (!open) return;
        const r = this.write(chunk);
        if (r !== 'over') return r;
        drop();
      },
      commit: () => {
        if (!open) return Promise.resolve(false);
        open = false;
        return commit(this.written);
      },
      abort: () => {
        if (open) drop();
      },
    };
  }
}
