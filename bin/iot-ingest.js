#!/usr/bin/env node
// Entry point of the `iot-ingest` CLI: runs the compiled JavaScript in dist/ with plain node.
// A source checkout builds dist/ on `npm install` (the prepare script) or with `npm run build`;
// during development `npm run dev -- <command>` runs the TypeScript through tsx instead.
import { existsSync } from 'node:fs';

const main = new URL('../dist/src/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write('iot-ingest: dist/ is missing: run `npm run build` (or `npm install`, which builds it)\n');
  process.exit(1);
}
await import(main.href);
