// Entry of the store worker thread: module hooks are per thread, so the TypeScript loader is
// registered here again before the worker's code is loaded.
import { register } from 'tsx/esm/api';

register();
await import('./store-worker.ts');
