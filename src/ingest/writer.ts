// Writes one batch of readings with BatchWriteItem until every reading is stored, rejected or out
// of retry budget. Resends only UnprocessedItems; retries throttling, 5xx and network errors with
// exponential backoff and full jitter; narrows a ValidationException down by splitting the batch so
// that only the bad reading is rejected. Partial failure is a result, not an exception.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { Metrics, RequestOutcome, RetryReason } from '../metrics/registry.ts';
import { classifyError } from '../storage/errors.ts';
import type { ClassifiedError } from '../storage/errors.ts';
import { readingKey, toItem } from '../storage/item.ts';
import type { TelemetryStore } from '../storage/telemetry-store.ts';
import { DEFAULT_BACKOFF, computeBackoffMs } from './backoff.ts';
import type { BackoffPolicy } from './backoff.ts';
import type { Reading } from './reading.ts';

export interface WriteResult {
  readonly stored: Reading[];
  /** Readings DynamoDB refuses on their own (ValidationException on a batch of one). */
  readonly rejected: { reading: Reading; message: string }[];
  /** Readings still unwritten when the retry budget ran out or a non-retriable error came. */
  readonly failed: Reading[];
  readonly failure?: Error;
}

export interface WriterOptions {
  readonly retentionDays: number | undefined;
  /** Retry budget of one batch, from its first attempt. */
  readonly writeTimeoutMs: number;
  readonly backoff?: BackoffPolicy;
}

const OPERATION = 'BatchWriteItem';
const RETRY_REASON: Record<string, RetryReason> = {
  throttled: 'throttled',
  server_error: 'server_error',
  network: 'network',
};

export class BatchWriter {
  constructor(
    private readonly store: TelemetryStore,
    private readonly metrics: Metrics,
    private readonly options: WriterOptions,
    private readonly log?: Logger,
  ) {}

  async write(readings: readonly Reading[]): Promise<WriteResult> {
    const result: MutableResult = { stored: [], rejected: [], failed: [] };
    await this.writeUntilDone(readings, Date.now() + this.options.writeTimeoutMs, result);
    return result;
  }

  private async writeUntilDone(readings: readonly Reading[], deadline: number, result: MutableResult): Promise<void> {
    let pending = readings;
    let attempt = 0;
    let lastError: unknown;
    while (pending.length > 0) {
      const started = performance.now();
      let retryReason: RetryReason;
      try {
        const out = await this.store.writeBatch(pending.map((r) => toItem(r, this.options.retentionDays)));
        const outcome: RequestOutcome = out.unprocessed.length > 0 ? 'partial' : 'ok';
        this.observeRequest(started, outcome, pending.length, out.consumedCapacityUnits);
        if (out.unprocessed.length === 0) {
          result.stored.push(...pending);
          return;
        }
        const unprocessed = new Set(out.unprocessed.map((i) => readingKey(String(i.deviceId), Number(i.ts))));
        const next: Reading[] = [];
        for (const r of pending) (unprocessed.has(readingKey(r.deviceId, r.ts)) ? next : result.stored).push(r);
        this.metrics.unprocessedItemsTotal.inc(next.length);
        pending = next;
        retryReason = 'unprocessed';
      } catch (err) {
        lastError = err;
        const c = classifyError(err);
        this.observeFailure(started, c);
        if (c.kind === 'validation') {
          await this.narrowDown(pending, deadline, result, err as Error);
          return;
        }
        if (!c.retriable) {
          this.fail(result, pending, err);
          return;
        }
        retryReason = RETRY_REASON[c.kind] ?? 'server_error';
      }
      const delayMs = computeBackoffMs(attempt++, this.options.backoff ?? DEFAULT_BACKOFF);
      if (Date.now() + delayMs >= deadline) {
        this.fail(result, pending, new Error(`retry budget of ${this.options.writeTimeoutMs} ms exhausted after ${attempt} attempts (${retryReason})`, { cause: lastError }));
        return;
      }
      this.metrics.writeRetriesTotal.inc({ reason: retryReason });
      await sleep(delayMs);
    }
  }

  /** A ValidationException names no item: split until the bad reading stands alone. */
  private async narrowDown(pending: readonly Reading[], deadline: number, result: MutableResult, err: Error): Promise<void> {
    if (pending.length === 1) {
      result.rejected.push({ reading: pending[0] as Reading, message: err.message });
      return;
    }
    const half = Math.ceil(pending.length / 2);
    await Promise.all([
      this.writeUntilDone(pending.slice(0, half), deadline, result),
      this.writeUntilDone(pending.slice(half), deadline, result),
    ]);
  }

  private fail(result: MutableResult, readings: readonly Reading[], err: unknown): void {
    // One line per failed batch (not per reading): at most writeConcurrency per retry budget.
    this.log?.error({ err, readings: readings.length, table: this.store.tableName }, 'batch not stored (durable acks: not acknowledged, devices resend; received acks: these readings are lost)');
    result.failed.push(...readings);
    result.failure ??= err instanceof Error ? err : new Error(String(err));
  }

  private observeRequest(started: number, outcome: RequestOutcome, size: number, capacity: number): void {
    const m = this.metrics;
    m.dynamodbRequestDurationSeconds.observe({ operation: OPERATION, outcome }, (performance.now() - started) / 1000);
    m.batchSizeReadings.observe(size);
    if (capacity > 0) m.consumedWriteCapacityUnitsTotal.inc({ table: this.store.tableName }, capacity);
  }

  private observeFailure(started: number, c: ClassifiedError): void {
    const m = this.metrics;
    const outcome: RequestOutcome = c.kind === 'throttled' ? 'throttled' : c.kind === 'validation' ? 'validation' : 'error';
    m.dynamodbRequestDurationSeconds.observe({ operation: OPERATION, outcome }, (performance.now() - started) / 1000);
    m.dynamodbErrorsTotal.inc({ operation: OPERATION, code: c.code });
    if (c.kind === 'throttled') m.dynamodbThrottlesTotal.inc({ operation: OPERATION });
  }
}

interface MutableResult {
  stored: Reading[];
  rejected: { reading: Reading; message: string }[];
  failed: Reading[];
  failure?: Error;
}
