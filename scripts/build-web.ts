// `bun run build`: bundle the dashboard (src/web) into dist/web/<source hash>/.
import { buildWeb } from '../src/http/web-build.ts';

const started = performance.now();
const bundle = await buildWeb({ force: process.argv.includes('--force') });
console.log(
  `dashboard built in ${Math.round(performance.now() - started)} ms: ${bundle.dir} (${[...bundle.assets].join(', ')})`,
);
