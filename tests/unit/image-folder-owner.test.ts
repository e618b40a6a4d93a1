import { afterEach, describe, expect, test } from 'bun:test';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { claimImageFolder, openImageStore } from '../../src/images/folder-store.ts';
import { silentLogger } from '../../src/lib/logger.ts';

/**
 * Processes sharing one database share the default image folder: one of them owns it (bound,
 * eviction, temp files), the others serve images from upstream. A real second process holds the lock.
 */
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function folder(): string {
  const d = mkdtempSync(join(tmpdir(), 'mjgw-owner-'));
  dirs.push(d);
  return d;
}

describe('image folder ownership', () => {
  test('a folder owned by a live process is not opened here; once that process is gone it is taken over', async () => {
    const dir = folder();
    const other = Bun.spawn(['bun', '-e', 'setInterval(() => {}, 1000)'], { stdout: 'ignore', stderr: 'ignore' });
    try {
      writeFileSync(join(dir, '.owner'), String(other.pid));
      expect(claimImageFolder(dir)).toEqual({ owned: false, ownerPid: other.pid });
      expect(openImageStore(dir, 1_000_000, silentLogger)).toBeNull();
    } finally {
      other.kill('SIGKILL');
      await other.exited;
    }
    const store = openImageStore(dir, 1_000_000, silentLogger);
    expect(store).not.toBeNull();
    expect(readFileSync(join(dir, '.owner'), 'utf8')).toBe(String(process.pid));
    // The same process may open its own folder again (a restart of the store in tests).
    expect(claimImageFolder(dir)).toEqual({ owned: true });
  });

  test('a fresh folder is claimed with this process id', () => {
    const dir = join(folder(), 'images');
    expect(claimImageFolder(dir)).toEqual({ owned: true });
    expect(existsSync(join(dir, '.owner'))).toBe(true);
  });
});
