// Translates AWS SDK and socket errors into the project's error family, in one place: is it worth
// retrying, is it throttling, or does DynamoDB reject the request itself (split it). `toStoreError`
// gives a StoreError (an IngestError with `code` and `retriable`, plus the class and the metric
// label); the worker thread sends these across as plain fields (`toWire` / `fromWire`).
import { IngestError } from '../errors.ts';
import type { ErrorCode } from '../errors.ts';

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
  if (err instanceof StoreError) return { kind: err.kind, code: err.label, retriable: err.retriable };
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

const CODE_OF: Record<ErrorClass, ErrorCode> = {
  throttled: 'STORE_THROTTLED',
  server_error: 'STORE_UNAVAILABLE',
  network: 'STORE_UNAVAILABLE',
  validation: 'STORE_REJECTED',
  fatal: 'STORE_FAILED',
};

/** An error from the store, classified once. */
export class StoreError extends IngestError {
  readonly kind: ErrorClass;
  /** Stable metric label: the SDK error name, NetworkError or TimeoutError. */
  readonly label: string;

  constructor(kind: ErrorClass, label: string, message: string, options: { retriable?: boolean; cause?: unknown } = {}) {
    super(CODE_OF[kind], message, { retriable: options.retriable ?? classRetriable(kind), cause: options.cause });
    this.name = 'StoreError';
    this.kind = kind;
    this.label = label;
  }
}

function classRetriable(kind: ErrorClass): boolean {
  return kind === 'throttled' || kind === 'server_error' || kind === 'network';
}

/** The one translation of SDK / socket errors into the error family; a StoreError passes through. */
export function toStoreError(err: unknown): StoreError {
  if (err instanceof StoreError) return err;
  const c = classifyError(err);
  const message = err instanceof Error ? err.message : String(err);
  return new StoreError(c.kind, c.code, message, { retriable: c.retriable, cause: err });
}

/** A StoreError as plain fields, to cross a worker-thread boundary. */
export interface WireError {
  readonly kind: ErrorClass;
  readonly label: string;
  readonly message: string;
  readonly retriable: boolean;
}

export function toWire(err: unknown): WireError {
  const e = toStoreError(err);
  return { kind: e.kind, label: e.label, message: e.message, retriable: e.retriable };
}

export function fromWire(w: WireError): StoreError {
  return new StoreError(w.kind, w.label, w.message, { retriable: w.retriable });
}
