import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { randomAlphanumeric } from '../lib/ids.ts';

/**
 * The dashboard bundle (SPEC §14): src/web bundled by Bun's own bundler into
 * dist/web/<source hash>/ (index.html + assets/<name>-<hash>.<ext>). A folder per source hash
 * makes a build atomic (written aside, then renamed) and "stale" a plain lookup: changed sources
 * or dependencies mean a new hash and so a new build.
 */

const ROOT = join(import.meta.dir, '../..');
export const WEB_SRC = join(ROOT, 'src/web');
export const WEB_DIST = join(ROOT, 'dist/web');
const KEEP_BUILDS = 3;

export interface WebBundle {
  dir: string;
  indexHtml: string;
  /** File names under `assets/` (hashed, so cacheable for ever). */
  assets: ReadonlySet<string>;
  /** Assets that also have a gzip twin (`<name>.gz`), made at build time so no request compresses. */
  gzipped: ReadonlySet<string>;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const p = join(dir, name);
      return statSync(p).isDirectory() ? filesUnder(p) : [p];
    });
}

/** Hash of everything the bundle is made of: the dashboard's sources, the client code it imports (packages/client/src), this builder, the locked dependencies. */
export function webSourceHash(): string {
  const h = createHash('sha256');
  for (const f of [
    ...filesUnder(WEB_SRC),
    ...filesUnder(join(ROOT, 'packages/client/src')),
    import.meta.path,
    join(ROOT, 'package.json'),
    join(ROOT, 'bun.lock'),
  ]) {
    if (!existsSync(f)) continue;
    h.update(relative(ROOT, f)).update('\0').update(readFileSync(f)).update('\0');
  }
  return h.digest('hex').slice(0, 16);
}

function load(dir: string): WebBundle {
  const names = readdirSync(join(dir, 'assets'));
  return {
    dir,
    indexHtml: readFileSync(join(dir, 'index.html'), 'utf8'),
    assets: new Set(names.filter((n) => !n.endsWith('.gz'))),
    gzipped: new Set(names.filter((n) => n.endsWith('.gz')).map((n) => n.slice(0, -3))),
  };
}

/** Old builds beyond the newest few are removed (a running older process may still serve one). */
function prune(current: string): void {
  const builds = readdirSync(WEB_DIST)
    .filter((n) => !n.startsWith('.') && join(WEB_DIST, n) !== current)
    .map((n) => ({ p: join(WEB_DIST, n), t: statSync(join(WEB_DIST, n)).mtimeMs }))
    .sort((a, b) => b.t - a.t);
  for (const b of builds.slice(KEEP_BUILDS - 1)) rmSync(b.p, { recursive: true, force: true });
}

/** The bundle of the current sources, built now when missing. */
export async function buildWeb(opts: { force?: boolean } = {}): Promise<WebBundle> {
  const dir = join(WEB_DIST, webSourceHash());
  if (!opts.force && existsSync(join(dir, 'index.html'))) return load(dir);
  mkdirSync(WEB_DIST, { recursive: true });
  const tmp = join(WEB_DIST, `.tmp-${randomAlphanumeric(8)}`);
  try {
    const result = await Bun.build({
      entrypoints: [join(WEB_SRC, 'main.tsx')],
      outdir: join(tmp, 'assets'),
      naming: '[name]-[hash].[ext]',
      publicPath: '/assets/',
      target: 'browser',
      minify: true,
      // React's production build (the dev one is 5x larger and warns in the console).
      define: { ['process' + '.env.NODE_ENV']: '"production"' },
    });
    if (!result.success) throw new Error(`dashboard build failed: ${result.logs.map(String).join('\n')}`);
    const names = result.outputs.map((o) => relative(join(tmp, 'assets'), o.path));
    for (const n of names) {
      const p = join(tmp, 'assets', n);
      writeFileSync(`${p}.gz`, Bun.gzipSync(readFileSync(p), { level: 9 }));
    }
    const scripts = names
      .filter((n) => n.endsWith('.js'))
      .map((n) => `<script type="module" src="/assets/${n}"></script>`);
    const styles = names.filter((n) => n.endsWith('.css')).map((n) => `<link rel="stylesheet" href="/assets/${n}">`);
    const template = readFileSync(join(WEB_SRC, 'index.html'), 'utf8');
    writeFileSync(
      join(tmp, 'index.html'),
      template.replace('<!--styles-->', styles.join('\n  ')).replace('<!--scripts-->', scripts.join('\n  ')),
    );
    if (opts.force) rmSync(dir, { recursive: true, force: true });
    try {
      renameSync(tmp, dir);
    } catch (err) {
      // Another process finished the same build first: theirs is identical.
      if (!existsSync(join(dir, 'index.html'))) throw err;
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  prune(dir);
  return load(dir);
}
