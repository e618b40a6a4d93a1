import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  type Stats,
  statSync,
  utimes,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../lib/logger.ts';
import { removeQuietly, Spool } from './spool.ts';
import { type ImageMeta, type ImageStore, type ImageWriter, parseSidecar, type StoredImage } from './store.ts';

/**
 * ImageStore on a local folder: `<name>.bin` holds the bytes and `<name>.json` its metadata.
 * Writes go to `tmp/` and are renamed into place, bytes first and the sidecar last, so an image
 * exists only once both are complete (a crash leaves at most a temp file or an orphan, both
 * removed at the next start). Recency lives in memory (a Map in use order) and in the data
 * file's access time, refreshed now and then, so the order survives a restart.
 */

const SAFE_NAME = /^[A-Za-z0-9_-]{1,80}$/;
/** How often a use is written back to the file's access time (the in-memory order is exact). */
const TOUCH_EVERY_MS = 60_000;
/** How long an evicted image's bytes stay on disk for answers already under way. */
const RETIRE_DELAY_MS = 5000;

/** The index entry is handed out as is by `get` (one BunFile per image, not one per request). */
interface Entry extends StoredImage {
  path: string;
  touchedAt: number;
}

/** File name for a key: the key itself when it is plain (mj_ids are digits), else its hash. */
export function fileNameOf(key: string): string {
  return SAFE_NAME.test(key) ? key : `h-${new Bun.CryptoHasher('sha256').update(key).digest('hex')}`;
}

function readMeta(path: string): (ImageMeta & { size: number }) | null {
  try {
    return parseSidecar(readFileSync(path, 'utf8'));
  } catch {
    return null;
  }
}

export class FolderImageStore implements ImageStore {
  private readonly entries = new Map<string, Entry>();
  private readonly writing = new Set<string>();
  private readonly tmp: string;
  private bytes = 0;
  private seq = 0;

  /** Opens (creating) the folder and rebuilds the index from it; evicts down to the bound. */
  constructor(
    private readonly dir: string,
    private readonly maxBytes: number,
    private readonly logger: Logger,
  ) {
    this.tmp = join(dir, 'tmp');
    rmSync(this.tmp, { recursive: true, force: true });
    mkdirSync(this.tmp, { recursive: true });
    this.rebuild();
  }

  get totalBytes(): number {
    return this.bytes;
  }

  private rebuild(): void {
    const found: Array<{ name: string; entry: Entry; usedAt: number }> = [];
    const names = new Set(readdirSync(this.dir));
    for (const file of names) {
      const dot = file.lastIndexOf('.');
      const name = file.slice(0, dot);
      const ext = file.slice(dot + 1);
      if (ext === 'bin' && !names.has(`${name}.json`)) removeQuietly(join(this.dir, file)); // never committed
      if (ext !== 'json') continue;
      const meta = readMeta(join(this.dir, file));
      let st: Stats | null;
      try {
        st = statSync(join(this.dir, `${name}.bin`));
      } catch {
        st = null;
      }
      if (!meta || !st || st.size !== meta.size || !SAFE_NAME.test(name)) {
        this.removeFiles(name);
        continue;
      }
      const usedAt = Math.max(st.atimeMs, st.mtimeMs);
      const path = this.dataPath(name);
      found.push({ name, usedAt, entry: { ...meta, path, body: Bun.file(path), touchedAt: usedAt } });
    }
    found.sort((a, b) => a.usedAt - b.usedAt);
    for (const f of found) {
      this.entries.set(f.name, f.entry);
      this.bytes += f.entry.size;
    }
    this.evict();
    if (this.entries.size > 0)
      this.logger.info('image store opened', { dir: this.dir, images: this.entries.size, bytes: this.bytes });
  }

  private dataPath(name: string): string {
    return join(this.dir, `${name}.bin`);
  }

  private removeFiles(name: string): void {
    removeQuietly(join(this.dir, `${name}.json`));
    removeQuietly(this.dataPath(name));
  }

  /**
   * Takes an image out of the index at once and off the disk a moment later: an answer that got
   * the entry just before may not have opened the file yet. The sidecar goes first, so a crash in
   * between leaves an orphan that the next start removes; a new copy stored meanwhile is kept.
   */
  private retire(name: string, entry: Entry): void {
    this.entries.delete(name);
    this.bytes -= entry.size;
    removeQuietly(join(this.dir, `${name}.json`));
    setTimeout(() => {
      if (!this.entries.has(name) && !this.writing.has(name)) removeQuietly(this.dataPath(name));
    }, RETIRE_DELAY_MS).unref();
  }

  private evict(): void {
    for (const [name, entry] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.retire(name, entry);
    }
  }

  async get(key: string): Promise<StoredImage | null> {
    const name = fileNameOf(key);
    const entry = this.entries.get(name);
    if (!entry) return null;
    // A file removed behind our back would make the answer fail half-sent: forget it instead
    // (the image is then fetched and stored again).
    if (!existsSync(entry.path)) {
      this.retire(name, entry);
      return null;
    }
    this.entries.delete(name);
    this.entries.set(name, entry);
    const now = Date.now();
    if (now - entry.touchedAt > TOUCH_EVERY_MS) {
      entry.touchedAt = now;
      utimes(entry.path, now / 1000, now / 1000, () => {});
    }
    return entry;
  }

  delete(key: string): void {
    const name = fileNameOf(key);
    const entry = this.entries.get(name);
    if (entry) this.retire(name, entry);
  }

  begin(key: string, meta: ImageMeta, size: number | null): ImageWriter | null {
    const name = fileNameOf(key);
    if (this.writing.has(name) || this.entries.has(name) || (size !== null && size > this.maxBytes)) return null;
    this.writing.add(name);
    const temp = join(this.tmp, `${name}.${process.pid}.${++this.seq}`);
    const spool = new Spool(temp, this.maxBytes);
    return spool.writer(
      () => this.writing.delete(name),
      async (written) => {
        // Still "writing" until the rename: no second writer for this key can start meanwhile.
        try {
          await spool.end(size);
          renameSync(temp, this.dataPath(name));
          const side = `${temp}.json`;
          writeFileSync(side, JSON.stringify({ ...meta, size: written }));
          renameSync(side, join(this.dir, `${name}.json`));
        } catch (err) {
          removeQuietly(temp);
          removeQuietly(`${temp}.json`);
          this.logger.warn('image store write failed', {
            key,
            error: err instanceof Error ? err.message : String(err),
          });
          return false;
        } finally {
          this.writing.delete(name);
        }
        const path = this.dataPath(name);
        this.entries.set(name, { ...meta, size: written, path, body: Bun.file(path), touchedAt: Date.now() });
        this.bytes += written;
        this.evict();
        return true;
      },
    );
  }
}

/** Whether a process of this machine still runs (for locks and folders left by a dead one). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: unknown }).code === 'EPERM';
  }
}

const ownedLocks = new Set<string>();
let releaseOnExit = false;

/**
 * One process owns a folder (its pid in `<dir>/.owner`): several processes sharing one database
 * would otherwise each bound the folder by their own count, and clear each other's temp files. A
 * lock whose process is gone is taken over.
 */
export function claimImageFolder(dir: string): { owned: true } | { owned: false; ownerPid: number } {
  mkdirSync(dir, { recursive: true });
  const lock = join(dir, '.owner');
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      writeFileSync(lock, String(process.pid), { flag: 'wx' });
      ownedLocks.add(lock);
      if (!releaseOnExit) {
        releaseOnExit = true;
        process.once('exit', () => {
          for (const l of ownedLocks) removeQuietly(l);
        });
      }
      return { owned: true };
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'EEXIST') throw err;
    }
    let pid = NaN;
    try {
      pid = Number(readFileSync(lock, 'utf8').trim());
    } catch {
      continue; // released meanwhile
    }
    if (pid === process.pid) return { owned: true };
    if (Number.isInteger(pid) && pid > 0 && processAlive(pid)) return { owned: false, ownerPid: pid };
    removeQuietly(lock); // its process is gone
  }
  return { owned: false, ownerPid: NaN };
}

export function openImageStore(dir: string | null, maxBytes: number, logger: Logger): ImageStore | null {
  if (dir === null || maxBytes <= 0) return null;
  const claim = claimImageFolder(dir);
  if (!claim.owned) {
    logger.info('image store folder is owned by another process; images are served from upstream here', {
      dir,
      ownerPid: claim.ownerPid,
    });
    return null;
  }
  return new FolderImageStore(dir, maxBytes, logger);
}
