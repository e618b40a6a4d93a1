import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * `bun run build:client`: the `mj-gateway/client` entry. The runtime is bundled by Bun (the tRPC
 * packages stay imports); the declarations come from tsc (tsconfig.client.json). Only the client's
 * own declarations are shipped: they name nothing but `@trpc/*` and `zod` (see src/client/router-type.ts).
 */
const root = join(import.meta.dir, '..');
const out = join(root, 'dist/client');
const typesOut = join(root, 'dist/.client-types');
rmSync(out, { recursive: true, force: true });
rmSync(typesOut, { recursive: true, force: true });

const built = await Bun.build({
  entrypoints: [join(root, 'src/client/index.ts')],
  outdir: out,
  target: 'browser',
  format: 'esm',
  external: ['@trpc/client', '@trpc/server'],
});
if (!built.success) {
  for (const log of built.logs) console.error(log);
  process.exit(1);
}

const tsc = Bun.spawnSync(['tsc', '-p', join(root, 'tsconfig.client.json')], { cwd: root, stdout: 'inherit', stderr: 'inherit' });
if (tsc.exitCode !== 0) process.exit(tsc.exitCode ?? 1);

// Declarations keep the `.ts` specifiers of the source; consumers resolve `.js` to the `.d.ts`.
const clientTypes = join(typesOut, 'client');
for (const name of readdirSync(clientTypes).filter((n) => n.endsWith('.d.ts'))) {
  const text = readFileSync(join(clientTypes, name), 'utf8').replace(/(from\s+['"]\.{1,2}\/[^'"]+)\.ts(['"])/g, '$1.js$2');
  if (/from\s+['"]\.\.\//.test(text)) throw new Error(`${name} reaches outside src/client`);
  writeFileSync(join(out, name), text);
}
rmSync(typesOut, { recursive: true, force: true });
console.log(`client built in ${out}`);
