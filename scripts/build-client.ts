import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * `bun run build:client`: the `mj-gateway-client` package (packages/client). The runtime is
 * bundled by Bun (the tRPC packages stay imports); the declarations come from tsc
 * (packages/client/tsconfig.build.json). Only the client's own declarations are shipped: they name
 * nothing but `@trpc/*` and `zod` (see packages/client/src/router-type.ts). Then `bun pm pack`
 * writes packages/client/mj-gateway-client-<version>.tgz, holding dist/, package.json and README.
 */
const root = join(import.meta.dir, '..');
const pkgDir = join(root, 'packages/client');
const out = join(pkgDir, 'dist');
const typesOut = join(pkgDir, '.types');
const { name, version } = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
};
const tarball = join(pkgDir, `${name}-${version}.tgz`);
for (const p of [out, typesOut, tarball]) rmSync(p, { recursive: true, force: true });

const built = await Bun.build({
  entrypoints: [join(pkgDir, 'src/index.ts')],
  outdir: out,
  target: 'browser',
  format: 'esm',
  external: ['@trpc/client', '@trpc/server'],
});
if (!built.success) {
  for (const log of built.logs) console.error(log);
  process.exit(1);
}

const tsc = Bun.spawnSync([join(root, 'node_modules/.bin/tsc'), '-p', join(pkgDir, 'tsconfig.build.json')], {
  cwd: root,
  stdout: 'inherit',
  stderr: 'inherit',
});
if (tsc.exitCode !== 0) process.exit(tsc.exitCode ?? 1);

// tsc emits declarations for every server module the router type reaches; only the client's own are
// kept. They keep the `.ts` specifiers of the source; consumers resolve `.js` to the `.d.ts`.
const clientTypes = join(typesOut, 'packages/client/src');
for (const file of readdirSync(clientTypes).filter((n) => n.endsWith('.d.ts'))) {
  const text = readFileSync(join(clientTypes, file), 'utf8').replace(
    /(from\s+['"]\.{1,2}\/[^'"]+)\.ts(['"])/g,
    '$1.js$2',
  );
  if (/from\s+['"]\.\.\//.test(text)) throw new Error(`${file} reaches outside packages/client/src`);
  writeFileSync(join(out, file), text);
}
rmSync(typesOut, { recursive: true, force: true });

const pack = Bun.spawnSync(['bun', 'pm', 'pack', '--quiet'], { cwd: pkgDir, stdout: 'pipe', stderr: 'pipe' });
if (pack.exitCode !== 0 || !existsSync(tarball)) {
  console.error(pack.stderr.toString() + pack.stdout.toString());
  process.exit(pack.exitCode || 1);
}
console.log(`client built in ${out}, packed as ${tarball}`);
