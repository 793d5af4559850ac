// Part of `npm run build`: tsc compiles the TypeScript; this copies the runtime files it does not
// (the .cjs/.mjs boot files of the embedded DynamoDB-API child process and the store worker, and
// any other non-TypeScript file under src/ or simulator/) to the same place under dist/, and the
// console's built assets (console/dist, made by `npm run build:console`) to dist/console/dist.
import { cpSync, existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, extname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const SKIP = new Set(['.ts', '.md']);

function copyTree(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) copyTree(path);
    else if (!SKIP.has(extname(name))) cpSync(path, join(root, 'dist', relative(root, path)));
  }
}
for (const dir of ['src', 'simulator']) copyTree(join(root, dir));
const consoleDist = join(root, 'console', 'dist');
if (!existsSync(join(consoleDist, 'index.html'))) {
  console.error('console/dist is missing: run `npm run build:console` before `npm run build`');
  process.exit(1);
}
cpSync(consoleDist, join(root, 'dist', 'console', 'dist'), { recursive: true });
