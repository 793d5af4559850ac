// Writes one batch of readings with BatchWriteItem until every reading is stored, rejected or out
// of retry budget. Resends only UnprocessedItems; retries throttling, 5xx and network errors with
// exponential backoff and full jitter; narrows a ValidationException down by splitting the batch so
// that only the bad reading is rejected. Partial failure is a result, not an exception.
import type { Logger } from 'pino';
import type { Metrics, RequestOutcome, RetryReason } from '../metrics/registry.ts';
import { IngestError } from '../errors.ts';
import { StoreError, toStoreError } from '../storage/errors.ts';
import { retry } from '../retry.ts';
import type { BackoffPolicy } from '../retry.ts';
import { readingKey, toItem } from '../storage/item.ts';
import type { BatchWriteOutcome, TelemetryStore } from '../storage/telemetry-store.ts';
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
/** Label of the retriable error the writer raises for UnprocessedItems (never sent to metrics as an error). */
const UNPROCESSED = 'UnprocessedItems';

/** The error as the store raised it (the SDK's own), for logs and causes. */
function original(err: unknown): unknown {
  return err instanceof StoreError && err.cause !== undefined ? err.cause : err;
}

function retryReason(err: unknown): RetryReason {
  if (!(err instanceof StoreError)) return 'server_error';
  if (err.label === UNPROCESSED) return 'unprocessed';
  return err.kind === 'throttled' || err.kind === 'network' ? err.kind : 'server_error';
}

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
    let attempts = 0;
    try {
      await retry(
        async () => {
          attempts++;
          const started = performance.now();
          let out: BatchWriteOutcome;
          try {
            out = await this.store.writeBatch(pending.map((r) => toItem(r, this.options.retentionDays)));
          } catch (err) {
            const e = toStoreError(err);
            this.observeFailure(started, e);
            throw e;
          }
          this.observeRequest(started, out.unprocessed.length > 0 ? 'partial' : 'ok', pending.length, out.consumedCapacityUnits);
          if (out.unprocessed.length === 0) {
            result.stored.push(...pending);
            return;
          }
          const unprocessed = new Set(out.unprocessed.map((i) => readingKey(String(i.deviceId), Number(i.ts))));
          const next: Reading[] = [];
          for (const r of pending) (unprocessed.has(readingKey(r.deviceId, r.ts)) ? next : result.stored).push(r);
          this.metrics.unprocessedItemsTotal.inc(next.length);
          pending = next;
          throw new StoreError('throttled', UNPROCESSED, `${next.length} unprocessed item(s)`);
        },
        {
          budgetMs: Math.max(0, deadline - Date.now()),
          ...(this.options.backoff ? { backoff: this.options.backoff } : {}),
          onRetry: (err) => this.metrics.writeRetriesTotal.inc({ reason: retryReason(err) }),
        },
      );
    } catch (err) {
      if (err instanceof StoreError && err.kind === 'validation') {
        await this.narrowDown(pending, deadline, result, err);
        return;
      }
      const exhausted = err instanceof IngestError && err.code === 'RETRY_EXHAUSTED';
      const failure = exhausted
        ? new Error(`retry budget of ${this.options.writeTimeoutMs} ms exhausted after ${attempts} attempts (${retryReason(err.cause)})`, { cause: original(err.cause) })
        : original(err);
      this.fail(result, pending, failure);
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

  private observeFailure(started: number, e: StoreError): void {
    const c = { kind: e.kind, code: e.label };
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
