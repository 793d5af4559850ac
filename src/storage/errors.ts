// Translates AWS SDK errors into what the writer needs to know, in one place: is it worth
// retrying, is it throttling, or does DynamoDB reject the request itself (split it).

export const ERROR_CLASSES = ['throttled', 'server_error', 'network', 'validation', 'fatal'] as const;
export type ErrorClass = (typeof ERROR_CLASSES)[number];

export interface ClassifiedError {
  readonly kind: ErrorClass;
  /** Stable label for metrics: the SDK error name, or NetworkError / TimeoutError. */
  readonly code: string;
  readonly retriable: boolean;
}

const THROTTLING = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'Throttling',
  'TooManyRequestsException',
]);
const NETWORK_CODES = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED', 'EHOSTUNREACH', 'ENETUNREACH',
]);

interface SdkLikeError {
  name?: string;
  code?: string;
  $fault?: 'client' | 'server';
  $metadata?: { httpStatusCode?: number };
}

export function classifyError(err: unknown): ClassifiedError {
  const e = (err ?? {}) as SdkLikeError;
  const name = typeof e.name === 'string' ? e.name : 'Error';
  if (THROTTLING.has(name)) return { kind: 'throttled', code: name, retriable: true };
  if (name === 'ValidationException') return { kind: 'validation', code: name, retriable: false };
  if (typeof e.code === 'string' && NETWORK_CODES.has(e.code)) return { kind: 'network', code: 'NetworkError', retriable: true };
  if (name === 'TimeoutError' || name === 'AbortError' || name === 'RequestTimeout') {
    return { kind: 'network', code: 'TimeoutError', retriable: true };
  }
  const status = e.$metadata?.httpStatusCode;
  if (status === 429) return { kind: 'throttled', code: name, retriable: true };
  if (e.$fault === 'server' || (status !== undefined && status >= 500)) {
    return { kind: 'server_error', code: name, retriable: true };
  }
  if (e.$fault === 'client' || (status !== undefined && status >= 400)) {
    return { kind: 'fatal', code: name, retriable: false };
  }
  // Anything else (a marshalling problem, a programmer error) is not retried: retrying cannot fix it.
  return { kind: 'fatal', code: name, retriable: false };
}
