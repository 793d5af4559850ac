#!/usr/bin/env node
// Development entry (not shipped): runs src/main.ts through tsx, so tests and `npm run dev` always
// run the current source, never a stale dist/.
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
