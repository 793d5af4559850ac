// retry(): retries only what the error calls retriable, stops on attempts, budget and abort, and
// reports each wait; StoreError translation decides for SDK-shaped errors.
import { describe, expect, it } from 'vitest';
import { IngestError } from '../../src/errors.ts';
import { retry, resendLeftovers } from '../../src/retry.ts';
import { StoreError, fromWire, toStoreError, toWire } from '../../src/storage/errors.ts';

const noWait = { random: () => 0 };
const flaky = (): IngestError => new IngestError('STORE_UNAVAILABLE', 'down', { retriable: true });

describe('retry', () => {
  it('retries retriable errors until the attempt succeeds, reporting each wait', async () => {
    const seen: number[] = [];
    let calls = 0;
    const out = await retry(async (n) => {
      calls++;
      if (n < 3) throw flaky();
      return 'ok';
    }, { ...noWait, onRetry: (_e, n) => seen.push(n) });
    expect(out).toBe('ok');
    expect(calls).toBe(4);
    expect(seen).toEqual([0, 1, 2]);
  });

  it('throws a non-retriable error at once, as it is', async () => {
    let calls = 0;
    const fatal = new IngestError('STORE_FAILED', 'no');
    await expect(retry(async () => { calls++; throw fatal; }, noWait)).rejects.toBe(fatal);
    expect(calls).toBe(1);
    // A plain Error says nothing about retrying: not retried.
    await expect(retry(async () => { calls++; throw new Error('plain'); }, noWait)).rejects.toThrow('plain');
    expect(calls).toBe(2);
  });

  it('gives up after maxAttempts with RETRY_EXHAUSTED carrying the last error', async () => {
    let calls = 0;
    const last = flaky();
    const err = await retry(async () => { calls++; throw last; }, { ...noWait, maxAttempts: 3 }).catch((e: unknown) => e);
    expect(calls).toBe(3);
    expect(err).toMatchObject({ code: 'RETRY_EXHAUSTED', retriable: true, cause: last });
  });

  it('gives up when the next wait would pass the budget', async () => {
    let calls = 0;
    const err = await retry(async () => { calls++; throw flaky(); }, { backoff: { baseMs: 1_000, capMs: 1_000 }, random: () => 0.999, budgetMs: 500 }).catch((e: unknown) => e);
    expect(calls).toBe(1);
    expect(err).toMatchObject({ code: 'RETRY_EXHAUSTED' });
  });

  it('stops waiting when aborted', async () => {
    const ac = new AbortController();
    let calls = 0;
    const p = retry(async () => { calls++; throw flaky(); }, { backoff: { baseMs: 60_000, capMs: 60_000 }, random: () => 0.5, signal: ac.signal, onRetry: () => ac.abort('stop') });
    await expect(p).rejects.toMatchObject({ code: 'ABORTED', cause: 'stop' });
    expect(calls).toBe(1);
  });
});

describe('store error translation', () => {
  it('maps SDK errors to codes with retriable, and survives a trip across a thread boundary', () => {
    const throttled = toStoreError(Object.assign(new Error('slow down'), { name: 'ThrottlingException', $fault: 'client', $metadata: { httpStatusCode: 400 } }));
    expect(throttled).toMatchObject({ code: 'STORE_THROTTLED', retriable: true, kind: 'throttled', label: 'ThrottlingException' });
    const invalid = toStoreError(Object.assign(new Error('bad'), { name: 'ValidationException', $fault: 'client', $metadata: { httpStatusCode: 400 } }));
    expect(invalid).toMatchObject({ code: 'STORE_REJECTED', retriable: false, kind: 'validation' });
    const reset = toStoreError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
    expect(reset).toMatchObject({ code: 'STORE_UNAVAILABLE', retriable: true, kind: 'network', label: 'NetworkError' });
    expect(toStoreError(new TypeError('bug'))).toMatchObject({ code: 'STORE_FAILED', retriable: false });
    const back = fromWire(structuredClone(toWire(throttled)));
    expect(back).toBeInstanceOf(StoreError);
    expect(back).toMatchObject({ code: 'STORE_THROTTLED', retriable: true, kind: 'throttled', label: 'ThrottlingException', message: 'slow down' });
    expect(toStoreError(back)).toBe(back);
  });
});

describe('resendLeftovers', () => {
  it('resends only what each answer left over, until nothing is left', async () => {
    const sent: number[][] = [];
    await resendLeftovers([1, 2, 3, 4], async (batch) => {
      sent.push([...batch]);
      return batch.length > 1 ? batch.slice(1) : [];
    }, { maxAttempts: 5, what: 'items' });
    expect(sent).toEqual([[1, 2, 3, 4], [2, 3, 4], [3, 4], [4]]);
  });
  it('gives up after maxAttempts with the caller\'s words, and does not retry errors of send', async () => {
    let calls = 0;
    await expect(resendLeftovers(['a'], async (batch) => (calls++, batch), { maxAttempts: 3, what: 'table "t": keys' }))
      .rejects.toMatchObject({ code: 'STORE_UNAVAILABLE', retriable: true, message: 'table "t": keys left unprocessed after 3 attempts' });
    expect(calls).toBe(3);
    calls = 0;
    const boom = Object.assign(new Error('throttled'), { retriable: true });
    await expect(resendLeftovers(['a'], async () => (calls++, Promise.reject(boom)), { maxAttempts: 3, what: 'x' })).rejects.toBe(boom);
    expect(calls).toBe(1);
  });
});
