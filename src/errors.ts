// The project's small error family: every error has a stable string code, and whether to retry is
// a property of the error, not a guess at the call site. Errors from outside (the AWS SDK, sockets)
// are translated into this family in one place (src/storage/errors.ts) before anyone decides on them.

export const ERROR_CODES = [
  'CONFIG_INVALID',
  'PAYLOAD_INVALID',
  'TOPIC_FORBIDDEN',
  'QUEUE_FULL',
  /** The store asks us to slow down (throttling, UnprocessedItems): retriable. */
  'STORE_THROTTLED',
  /** The store could not be reached or failed on its side (network, timeout, 5xx): retriable. */
  'STORE_UNAVAILABLE',
  /** The store refuses this request's content (ValidationException): retrying the same cannot help. */
  'STORE_REJECTED',
  /** Anything else from the store (credentials, missing table, a bug): not retriable. */
  'STORE_FAILED',
  /** A retry loop gave up (attempts or time budget); `cause` holds the last error. */
  'RETRY_EXHAUSTED',
  /** A retry loop was stopped by its AbortSignal. */
  'ABORTED',
  'SHUTTING_DOWN',
  'RATE_LIMITED',
  'LIMIT_EXCEEDED',
  'PROTOCOL_VIOLATION',
  'AUTH_FAILED',
  'TLS_CONFIG',
  'PROXY_HEADER_INVALID',
  'WORKER_FAILED',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export class IngestError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;

  constructor(code: ErrorCode, message: string, options: { retriable?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'IngestError';
    this.code = code;
    this.retriable = options.retriable ?? false;
  }
}

/** A problem with how the CLI was invoked; main prints the message and exits with `exitCode`. */
export class CliError extends IngestError {
  readonly exitCode: number;

  constructor(code: ErrorCode, message: string, options: { exitCode?: number; cause?: unknown } = {}) {
    super(code, message, { cause: options.cause });
    this.name = 'CliError';
    this.exitCode = options.exitCode ?? 2;
  }
}

/**
 * Whether waiting and trying again may cure `err`: true only for errors that say so themselves
 * (`retriable: true`). Untranslated errors are not retried: translate them first.
 */
export function isRetriable(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { retriable?: unknown }).retriable === true;
}
