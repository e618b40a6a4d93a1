import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../lib/logger.ts';
import { openImageStore, processAlive } from './folder-store.ts';
import { S3ImageStore, type S3Location } from './s3-store.ts';
import type { ImageStore } from './store.ts';

/** What the configuration says about the image store (IMAGE_STORE, IMAGE_CACHE_*, IMAGE_REDIRECT). */
export interface ImageStoreSettings {
  /** The bucket, or null: the local folder. */
  s3: S3Location | null;
  /** Answers are redirects to presigned URLs: no local copies are kept. */
  redirect: boolean;
  dir: string | null;
  maxBytes: number;
}

let opened = 0;
/** Local-copy folders of this process, removed when it exits (one listener for all of them). */
const ownDirs = new Set<string>();

/**
 * The folder of this process's local copies of bucket images: `s3-copies-<pid>-<n>` in the image
 * folder (or the system's temp folder), after removing those of processes that are gone.
 */
function localCopiesDir(base: string | null): string {
  const parent = base ?? tmpdir();
  mkdirSync(parent, { recursive: true });
  for (const name of readdirSync(parent)) {
    const pid = /^s3-copies-(\d+)-\d+$/.exec(name)?.[1];
    if (pid && Number(pid) !== process.pid && !processAlive(Number(pid)))
      rmSync(join(parent, name), { recursive: true, force: true });
  }
  const dir = join(parent, `s3-copies-${process.pid}-${++opened}`);
  if (ownDirs.size === 0) {
    process.once('exit', () => {
      for (const d of ownDirs) rmSync(d, { recursive: true, force: true });
    });
  }
  ownDirs.add(dir);
  return dir;
}

/** The store the configuration asks for: a bucket, a folder, or none (no folder or no room). */
export function openConfiguredImageStore(s: ImageStoreSettings, logger: Logger): ImageStore | null {
  if (s.s3 === null) return openImageStore(s.dir, s.maxBytes, logger);
  logger.info('image store: S3 bucket', {
    bucket: s.s3.bucket,
    prefix: s.s3.prefix,
    endpoint: new URL(s.s3.endpoint).host,
  });
  const store = new S3ImageStore(
    { ...s.s3, localMaxBytes: s.redirect ? 0 : s.maxBytes, localDir: localCopiesDir(s.dir) },
    logger,
  );
  void store.check();
  return store;
}
