// Builds the console into console/dist (index.html, app.js, app.css): one bundle with uPlot inside,
// no CDN, so the console works offline. Run by `npm run build:console` (on install and before tests).
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const require = createRequire(import.meta.url);
mkdirSync(here('./dist'), { recursive: true });
await build({
  entryPoints: [here('./src/app.ts')],
  bundle: true,
  minify: true,
  format: 'esm',
  target: 'es2022',
  outfile: here('./dist/app.js'),
  logLevel: 'warning',
});
const uplotCss = readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8');
writeFileSync(here('./dist/app.css'), `${uplotCss}\n${readFileSync(here('./src/style.css'), 'utf8')}`);
copyFileSync(here('./src/index.html'), here('./dist/index.html'));
