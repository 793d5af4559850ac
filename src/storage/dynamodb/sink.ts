// The DynamoDB ReadingSink: encodes each reading once into wire JSON (wire.ts), writes the batch with
// BatchWriteItem through a transport until every reading is stored, rejected or out of retry budget.
// Resends only UnprocessedItems; retries what the error calls retriable (throttling, 5xx, network)
// with the shared retry helper; narrows an error that concerns one item (ValidationException, an
// item that cannot be encoded) down by splitting the batch so that only that reading is rejected.
// Partial failure is a result, not an exception.
import type { Logger } from 'pino';
import type { RequestOutcome, RetryReason, WriteMetrics } from './metrics.ts';
import { IngestError } from '../../errors.ts';
import { StoreError, toStoreError } from '../errors.ts';
import { retry } from '../../retry.ts';
import type { BackoffPolicy } from '../../retry.ts';
import { readingKey } from '../../ingest/reading.ts';
import type { Reading } from '../../ingest/reading.ts';
import type { ReadingSink, RejectedReading, WriteResult } from '../../ingest/sink.ts';
import type { BatchOutcome, BatchTransport } from './transport.ts';
import { encodeBatch } from './wire.ts';

export interface DynamoSinkOptions {
  readonly retentionDays: number | undefined;
  /** Retry budget of one batch, from its first attempt. */
  readonly writeTimeoutMs: number;
  readonly backoff?: BackoffPolicy;
  /** A request answered slower than this counts as the store pushing back (rising latency); default: never. */
  readonly slowRequestMs?: number;
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


export class DynamoDbSink implements ReadingSink {
  constructor(
    private readonly transport: BatchTransport,
    private readonly metrics: WriteMetrics,
    private readonly options: DynamoSinkOptions,
    private readonly log?: Logger,
  ) {}

  async write(readings: readonly Reading[]): Promise<WriteResult> {
    const result: MutableResult = { stored: [], rejected: [], failed: [] };
    // The whole request body at once (no string per item); a reading that cannot be encoded is
    // rejected on its own and the others go.
    const batch = encodeBatch(this.transport.tableName, readings, this.options.retentionDays);
    for (const { reading, message } of batch.unencodable) result.rejected.push({ reading, reason: `cannot be encoded for DynamoDB: ${message}` });
    if (batch.encoded.length > 0) await this.writeUntilDone(batch.encoded, Date.now() + this.options.writeTimeoutMs, result, batch.body);
    return result;
  }

  async forceFlush(): Promise<void> {
    // Nothing is buffered here: a write resolves once DynamoDB answered.
  }

  async shutdown(): Promise<void> {
    await this.transport.close();
  }

  /** `body`: the request for all of `readings`, when built already (sent while none of them is stored). */
  private async writeUntilDone(readings: readonly Reading[], deadline: number, result: MutableResult, body?: string): Promise<void> {
    let pending = readings;
    let attempts = 0;
    try {
      await retry(
        async () => {
          attempts++;
          const started = performance.now();
          let out: BatchOutcome;
          try {
            out = await this.transport.send(pending === readings && body !== undefined ? body : this.bodyOf(pending));
          } catch (err) {
            const e = toStoreError(err);
            this.observeFailure(started, e);
            throw e;
          }
          const tookMs = this.observeRequest(started, out.unprocessedKeys.length > 0 ? 'partial' : 'ok', pending.length, out.consumedCapacityUnits);
          if (tookMs > (this.options.slowRequestMs ?? Infinity)) result.pushedBack = true;
          if (out.unprocessedKeys.length === 0) {
            for (const r of pending) result.stored.push(r);
            return;
          }
          const unprocessed = new Set(out.unprocessedKeys);
          const next: Reading[] = [];
          for (const r of pending) {
            if (unprocessed.has(readingKey(r.deviceId, r.ts))) next.push(r);
            else result.stored.push(r);
          }
          this.metrics.unprocessedItemsTotal.inc(next.length);
          pending = next;
          throw new StoreError('throttled', UNPROCESSED, `${next.length} unprocessed item(s)`);
        },
        {
          budgetMs: Math.max(0, deadline - Date.now()),
          ...(this.options.backoff ? { backoff: this.options.backoff } : {}),
          onRetry: (err) => {
            const reason = retryReason(err);
            if (reason === 'throttled' || reason === 'unprocessed') result.pushedBack = true;
            this.metrics.writeRetriesTotal.inc({ reason });
          },
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

  /** The request for part of a batch (a resend): its readings were all encoded once already. */
  private bodyOf(readings: readonly Reading[]): string {
    return encodeBatch(this.transport.tableName, readings, this.options.retentionDays).body as string;
  }

  /** A ValidationException names no item: split until the bad reading stands alone. */
  private async narrowDown(pending: readonly Reading[], deadline: number, result: MutableResult, err: Error): Promise<void> {
    if (pending.length === 1) {
      result.rejected.push({ reading: pending[0] as Reading, reason: err.message });
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
    this.log?.error({ err, readings: readings.length, table: this.transport.tableName }, 'batch not stored (durable acks: not acknowledged, devices resend; received acks: these readings are lost)');
    for (const r of readings) result.failed.push(r);
    result.failure ??= err instanceof Error ? err : new Error(String(err));
  }

  /** Records one answered request; returns its duration in ms. */
  private observeRequest(started: number, outcome: RequestOutcome, size: number, capacity: number): number {
    const m = this.metrics;
    const tookMs = performance.now() - started;
    m.dynamodbRequestDurationSeconds.observe({ operation: OPERATION, outcome }, tookMs / 1000);
    m.batchSizeReadings.observe(size);
    if (capacity > 0) m.consumedWriteCapacityUnitsTotal.inc({ table: this.transport.tableName }, capacity);
    return tookMs;
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
  rejected: RejectedReading[];
  failed: Reading[];
  failure?: Error;
  pushedBack?: boolean;
}
