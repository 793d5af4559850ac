// classifyError: SDK error shapes -> retry or not, and the metric code.
import { describe, expect, it } from 'vitest';
import { ERROR_CLASSES, classifyError } from '../../src/storage/errors.ts';

function sdkError(name: string, fault: 'client' | 'server', status: number, message = name): Error {
  return Object.assign(new Error(message), { name, $fault: fault, $metadata: { httpStatusCode: status, attempts: 1 } });
}

describe('classifyError', () => {
  it.each([
    'ProvisionedThroughputExceededException',
    'ThrottlingException',
    'RequestLimitExceeded',
    'Throttling',
    'TooManyRequestsException',
  ])('%s is throttling, retriable', (name) => {
    expect(classifyError(sdkError(name, 'client', 400))).toEqual({ kind: 'throttled', code: name, retriable: true });
  });

  it('ValidationException is validation, not retried as such (the writer splits the batch)', () => {
    expect(classifyError(sdkError('ValidationException', 'client', 400))).toEqual({ kind: 'validation', code: 'ValidationException', retriable: false });
  });

  it('InternalServerError with $fault server / status 500 is a retriable server error', () => {
    expect(classifyError(sdkError('InternalServerError', 'server', 500))).toEqual({ kind: 'server_error', code: 'InternalServerError', retriable: true });
    // Either signal alone is enough.
    expect(classifyError(Object.assign(new Error('x'), { name: 'InternalServerError', $metadata: { httpStatusCode: 500 } })).kind).toBe('server_error');
    expect(classifyError(Object.assign(new Error('x'), { name: 'ServiceUnavailable', $fault: 'server', $metadata: {} })).kind).toBe('server_error');
    expect(classifyError(sdkError('ServiceUnavailable', 'server', 503))).toMatchObject({ kind: 'server_error', retriable: true });
  });

  it('network errors as the SDK produces them are retriable', () => {
    // NodeHttpHandler request timeout: name TimeoutError, code ECONNRESET, $metadata without a status.
    const timeout = Object.assign(new Error('Request timed out'), { name: 'TimeoutError', code: 'ECONNRESET', $metadata: { attempts: 1, totalRetryDelay: 0 } });
    expect(classifyError(timeout)).toMatchObject({ kind: 'network', retriable: true });
    const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET', $metadata: { attempts: 1 } });
    expect(classifyError(reset)).toEqual({ kind: 'network', code: 'NetworkError', retriable: true });
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:4567'), { code: 'ECONNREFUSED', errno: -111, syscall: 'connect' });
    expect(classifyError(refused)).toEqual({ kind: 'network', code: 'NetworkError', retriable: true });
    const plainTimeout = Object.assign(new Error('Connection timed out after 5000 ms'), { name: 'TimeoutError' });
    expect(classifyError(plainTimeout)).toEqual({ kind: 'network', code: 'TimeoutError', retriable: true });
    const abort = Object.assign(new Error('aborted'), { name: 'AbortError' });
    expect(classifyError(abort)).toMatchObject({ kind: 'network', retriable: true });
  });

  it('an error with no HTTP status, no fault and no network code is fatal: retrying cannot fix it', () => {
    expect(classifyError(new Error('something unexpected'))).toEqual({ kind: 'fatal', code: 'Error', retriable: false });
    // The SDK reports a reset socket as TimeoutError with code ECONNRESET: that one is retried.
    const reset = Object.assign(new Error('socket hang up'), { name: 'TimeoutError', code: 'ECONNRESET' });
    expect(classifyError(reset)).toMatchObject({ kind: 'network', retriable: true });
  });

  it('HTTP 429 with an unknown error name is throttling', () => {
    const e = Object.assign(new Error('slow down'), { name: 'SlowDown', $fault: 'client', $metadata: { httpStatusCode: 429 } });
    expect(classifyError(e)).toEqual({ kind: 'throttled', code: 'SlowDown', retriable: true });
  });

  it('a TypeError (programmer error) is fatal and never retried', () => {
    expect(classifyError(new TypeError("Cannot read properties of undefined (reading 'x')"))).toEqual({ kind: 'fatal', code: 'TypeError', retriable: false });
    expect(classifyError(new RangeError('Invalid array length'))).toMatchObject({ kind: 'fatal', retriable: false });
    // Even when the SDK's middleware decorated it with $metadata.
    expect(classifyError(Object.assign(new TypeError('x'), { $metadata: { attempts: 1 } }))).toMatchObject({ kind: 'fatal', retriable: false });
  });

  it('AccessDeniedException with $fault client is fatal', () => {
    expect(classifyError(sdkError('AccessDeniedException', 'client', 400))).toEqual({ kind: 'fatal', code: 'AccessDeniedException', retriable: false });
    expect(classifyError(sdkError('ResourceNotFoundException', 'client', 400))).toMatchObject({ kind: 'fatal', retriable: false });
    expect(classifyError(Object.assign(new Error('x'), { name: 'UnrecognizedClientException', $metadata: { httpStatusCode: 403 } }))).toMatchObject({ kind: 'fatal', retriable: false });
  });

  it('tolerates non-Error values without throwing', () => {
    for (const v of [undefined, null, 'boom', 42, { name: 42 }]) {
      const c = classifyError(v);
      expect(ERROR_CLASSES).toContain(c.kind);
      expect(typeof c.code).toBe('string');
    }
  });
});
