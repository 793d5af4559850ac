// Backoff now lives with the retry helper (src/retry.ts); re-exported for existing callers.
export { DEFAULT_BACKOFF, computeBackoffMs } from '../retry.ts';
export type { BackoffPolicy } from '../retry.ts';
