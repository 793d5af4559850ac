// Entry of the store worker thread. Built (dist/), the compiled store-worker.js sits beside this
// file and runs with plain node. From source (development, tests), module hooks are per thread, so
// the TypeScript loader (tsx, a dev dependency) is registered here again before the worker's code.
import { existsSync } from 'node:fs';

const compiled = new URL('./store-worker.js', import.meta.url);
if (existsSync(compiled)) {
  await import(compiled.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('./store-worker.ts');
}
