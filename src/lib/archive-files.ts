import { mkdir, open, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';

/**
 * The archive files of retention (SPEC §17): gzip-compressed JSON Lines, one file per table and
 * month, grown by appending one gzip member per batch (a multi-member gzip is one valid file:
 * `zcat`, `gunzip` and Bun.gunzipSync read all members). Every append is fsynced, and the folder
 * too when the file is new, before the caller commits the rows' delete. Compression runs on
 * zlib's thread pool, so a batch never holds the event loop for it.
 */

const gzipAsync = promisify(gzip);

/** `YYYY-MM` (UTC) of a time in ms; times outside years 0000–9999 share `0000-00`. */
export function monthOf(ms: number): string {
  const d = new Date(ms);
  const year = d.getUTCFullYear();
  if (!Number.isFinite(year) || year < 0 || year > 9999) return '0000-00';
  return `${String(year).padStart(4, '0')}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
}

/** `tasks-2026-11.jsonl.gz`. */
export const archiveFileName = (table: string, month: string) => `${table}-${month}.jsonl.gz`;

/** Size in bytes, or null when the file does not exist. */
export async function sizeOf(path: string): Promise<number | null> {
  try {
    return (await stat(path)).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** fsync a folder, so a file created in it survives a crash. */
async function syncFolder(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Append each of `chunks` (JSON Lines text) to `dir/name` as a gzip member of its own, in order,
 * then fsync the file once (and the folder when the file is new). Returns the file's length after
 * each member, so a caller can commit the members one by one.
 */
export async function appendGzipMembers(dir: string, name: string, chunks: readonly string[]): Promise<number[]> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, name);
  const created = (await sizeOf(path)) === null;
  const members = await Promise.all(chunks.map((c) => gzipAsync(Buffer.from(c, 'utf8'))));
  const fh = await open(path, 'a');
  const lengths: number[] = [];
  try {
    let size = (await fh.stat()).size;
    for (const data of members) {
      for (let off = 0; off < data.length; ) off += (await fh.write(data, off, data.length - off)).bytesWritten;
      size += data.length;
      lengths.push(size);
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
  if (created) await syncFolder(dir);
  return lengths;
}

/** Cut `path` back to `length` bytes (a gzip member boundary), fsynced. */
export async function truncateTo(path: string, length: number): Promise<void> {
  await truncate(path, length);
  const fh = await open(path, 'r+');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
