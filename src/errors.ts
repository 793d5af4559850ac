// The project's small error family: every error has a stable string code, and whether to retry is
// a property of the error, not a guess at the call site.

export const ERROR_CODES = [
  'CONFIG_INVALID',
  'PAYLOAD_INVALID',
  'TOPIC_FORBIDDEN',
  'QUEUE_FULL',
  'STORE_THROTTLED',
  'STORE_UNAVAILABLE',
  'STORE_REJECTED',
  'STORE_FAILED',
  'SHUTTING_DOWN',
  'RATE_LIMITED',
  'LIMIT_EXCEEDED',
  'PROTOCOL_VIOLATION',
  'AUTH_FAILED',
  'TLS_CONFIG',
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
