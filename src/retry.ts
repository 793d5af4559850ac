// The one retry helper. Every loop that retries (the DynamoDB writer, the dead-letter writer, table
// bootstrap, the readiness wait, the embedded store's start, command status writes, and through
// `resendLeftovers` the registry's reads, bulk import and dlq replay) goes through `retry`, so they all back
// off the same way (exponential, full jitter), stop the same way (attempts, time budget, abort),
// and decide the same way: the error says whether it is `retriable` (src/errors.ts).
//
//   const out = await retry(() => send(), { budgetMs: 10_000, signal, onRetry: (err, n, ms) => log.warn(...) });
//
// Full jitter: the delay before retry n (0-based) is uniform in [0, min(capMs, baseMs * 2^n)]; a
// fleet of callers that failed together does not come back as a herd.
import { IngestError, isRetriable as errorSaysRetriable } from './errors.ts';

export interface BackoffPolicy {
  readonly baseMs: number;
  readonly capMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 25, capMs: 2_000 };

export function computeBackoffMs(attempt: number, policy: BackoffPolicy = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}

export interface RetryOptions {
  /** Backoff between attempts; default 25 ms base, 2 s cap. */
  readonly backoff?: BackoffPolicy;
  /** Gives up when the next wait would end more than this many ms after the first attempt began. Default: no limit. */
  readonly budgetMs?: number;
  /** Gives up after this many attempts (the first one included). Default: no limit. */
  readonly maxAttempts?: number;
  /** Stops waiting and trying as soon as it is aborted. */
  readonly signal?: AbortSignal;
  /** Which errors to retry; default: those with `retriable: true`. */
  readonly isRetriable?: (err: unknown) => boolean;
  /** Called before each wait (for logs and metrics). */
  readonly onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
  readonly random?: () => number;
}

/**
 * Runs `attempt(n)` (n from 0) until it resolves. A non-retriable error is thrown as it is; when the
 * attempts or the budget run out, an IngestError RETRY_EXHAUSTED (retriable, cause: the last error);
 * when `signal` aborts, an IngestError ABORTED (cause: the signal's reason).
 */
export async function retry<T>(attempt: (n: number) => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const started = Date.now();
  const retriable = options.isRetriable ?? errorSaysRetriable;
  for (let n = 0; ; n++) {
    throwIfAborted(options.signal);
    try {
      return await attempt(n);
    } catch (err) {
      if (!retriable(err)) throw err;
      if (options.maxAttempts !== undefined && n + 1 >= options.maxAttempts) throw exhausted(err, n + 1, `${n + 1} attempts`);
      const delayMs = computeBackoffMs(n, options.backoff, options.random);
      if (options.budgetMs !== undefined && Date.now() + delayMs - started > options.budgetMs) {
        throw exhausted(err, n + 1, `a budget of ${options.budgetMs} ms`);
      }
      options.onRetry?.(err, n, delayMs);
      await delay(delayMs, options.signal);
    }
  }
}

function exhausted(last: unknown, attempts: number, limit: string): IngestError {
  const why = last instanceof Error ? last.message : String(last);
  return new IngestError('RETRY_EXHAUSTED', `gave up after ${attempts} attempt(s) (${limit}): ${why}`, { retriable: true, cause: last });
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new IngestError('ABORTED', 'retry aborted', { cause: signal.reason });
}

function delay(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(new IngestError('ABORTED', 'retry aborted', { cause: signal.reason }));
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new IngestError('ABORTED', 'retry aborted', { cause: signal?.reason }));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Sends `items`, then only what each answer hands back as left over (BatchWriteItem's
 * UnprocessedItems, BatchGetItem's UnprocessedKeys), backing off between rounds as `retry` does.
 * Errors of `send` itself are not retried here. After `maxAttempts` rounds with something still
 * left, it throws STORE_UNAVAILABLE (retriable) with `what` in the message.
 */
export async function resendLeftovers<T>(items: readonly T[], send: (batch: readonly T[]) => Promise<readonly T[]>, options: { readonly maxAttempts: number; readonly what: string }): Promise<void> {
  const leftover = new IngestError('STORE_UNAVAILABLE', `${options.what} left unprocessed after ${options.maxAttempts} attempts`, { retriable: true });
  let pending = items;
  try {
    await retry(async () => {
      pending = await send(pending);
      if (pending.length > 0) throw leftover;
    }, { maxAttempts: options.maxAttempts, isRetriable: (err) => err === leftover });
  } catch (err) {
    // Exhausted: the caller's own message, not the retry helper's wrapper.
    throw err instanceof IngestError && err.code === 'RETRY_EXHAUSTED' ? leftover : err;
  }
}
