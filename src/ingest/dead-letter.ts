// The dead-letter writer: invalid payloads and readings DynamoDB refuses go to the dead-letter table
// (record shape in dead-letter-record.ts). Three promises hold here:
// - bounded: at most `maxInflight` writes at once. When every slot is taken, a QoS 1 record waits
//   for one (its PUBACK waits: backpressure, like the reading queue); a QoS 0 record is dropped and
//   counted (iot_ingest_dead_letter_dropped_total{reason="overloaded"}).
// - retried: throttling, 5xx and network errors are retried by the one retry helper (src/retry.ts)
//   with the same backoff and budget as readings (full jitter, `retryBudgetMs`).
// - honest: iot_ingest_dead_lettered_total counts only records DynamoDB accepted. A record that
//   still cannot be written is counted under iot_ingest_dead_letter_write_failures_total and logged
//   as one line without its payload (size and SHA-256 identify it). No log line carries a payload.
// Storms are summarised in the log every 10 s, not logged one by one.
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics/registry.ts';
import { retry } from '../retry.ts';
import type { BackoffPolicy } from '../retry.ts';
import { StoreError, toStoreError } from '../storage/errors.ts';
import { createDeadLetterMetrics } from './dead-letter-metrics.ts';
import type { DeadLetterMetrics } from './dead-letter-metrics.ts';
import { toRecord } from './dead-letter-record.ts';
import type { AnyDeadLetterRecord, DeadLetterInput } from './dead-letter-record.ts';

export type { AnyDeadLetterRecord, DeadLetterInput, DeadLetterPreviewRecord, DeadLetterRecord } from './dead-letter-record.ts';

export interface DeadLetterOptions {
  readonly tableName: string;
  readonly retentionDays: number | undefined;
  /** Dead-letter writes in flight at most (deadLetterMaxInflight). */
  readonly maxInflight: number;
  /** How long one record's write is retried before it counts as failed (writeTimeoutMs). */
  readonly retryBudgetMs: number;
  readonly backoff?: BackoffPolicy;
}

/** What the publish hook waits for: a write slot (`admitted`), then the final outcome (`settled`). */
export interface DeadLetterTicket {
  /** Resolves once the record holds a write slot, or was dropped (QoS 0 only). */
  readonly admitted: Promise<void>;
  /** Resolves once the record is written, dropped, or given up on. Never rejects. */
  readonly settled: Promise<void>;
}

const SUMMARY_INTERVAL_MS = 10_000;
const MAX_LOGGED_ERROR_CHARS = 300;
const DONE: Promise<void> = Promise.resolve();

export class DeadLetterWriter {
  private readonly pending = new Set<Promise<void>>();
  private readonly waiting: (() => void)[] = [];
  private inflight = 0;
  private readonly written = new Map<string, number>();
  private dropped = 0;
  private failed = 0;
  private readonly summaryTimer: NodeJS.Timeout;
  private readonly own: DeadLetterMetrics;
  private readonly stopRetrying = new AbortController();

  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly options: DeadLetterOptions,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {
    this.own = createDeadLetterMetrics(metrics.registry, () => ({ inflight: this.inflight, waiting: this.waiting.length, capacity: options.maxInflight }));
    this.summaryTimer = setInterval(() => this.summarise(), SUMMARY_INTERVAL_MS).unref();
  }

  /** Hands one record over. Never throws; the ticket's promises never reject. */
  write(input: DeadLetterInput): DeadLetterTicket {
    if (this.inflight < this.options.maxInflight) {
      this.inflight++;
      return { admitted: DONE, settled: this.track(this.run(input)) };
    }
    if (input.qos === 0) {
      this.own.droppedTotal.inc({ reason: 'overloaded' });
      this.dropped++;
      return { admitted: DONE, settled: DONE };
    }
    // The slot is handed over by the write that frees it (inflight stays the same).
    const admitted = new Promise<void>((resolve) => this.waiting.push(resolve));
    return { admitted, settled: this.track(admitted.then(() => this.run(input))) };
  }

  /**
   * Waits for the writes in progress and waiting (shutdown). After `deadlineMs` their retries stop:
   * what is still unwritten is given up (counted and logged as failures), not waited for.
   */
  async flush(deadlineMs = Number.POSITIVE_INFINITY): Promise<void> {
    const timer = Number.isFinite(deadlineMs) ? setTimeout(() => this.stopRetrying.abort(), deadlineMs).unref() : undefined;
    while (this.pending.size > 0) await Promise.all([...this.pending]);
    clearTimeout(timer);
    clearInterval(this.summaryTimer);
    this.summarise();
  }

  private track(p: Promise<void>): Promise<void> {
    const tracked = p.finally(() => this.pending.delete(tracked));
    this.pending.add(tracked);
    return tracked;
  }

  /** Writes one record while holding a slot, then passes the slot on. */
  private async run(input: DeadLetterInput): Promise<void> {
    try {
      const record = toRecord(input, this.options.retentionDays);
      if (record.payloadTruncated) this.own.truncatedTotal.inc();
      await this.put(record);
    } catch (err) {
      this.giveUp(undefined, input.reason, err, 1);
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.inflight--;
    }
  }

  private async put(record: AnyDeadLetterRecord): Promise<void> {
    let attempts = 0;
    try {
      await retry(
        async () => {
          attempts++;
          try {
            await this.doc.send(new PutCommand({ TableName: this.options.tableName, Item: { ...record } }));
          } catch (err) {
            throw toStoreError(err);
          }
        },
        { budgetMs: this.options.retryBudgetMs, signal: this.stopRetrying.signal, ...(this.options.backoff ? { backoff: this.options.backoff } : {}) },
      );
    } catch (err) {
      return this.giveUp(record, record.reason, err, attempts);
    }
    this.metrics.deadLetteredTotal.inc({ reason: record.reason });
    this.written.set(record.reason, (this.written.get(record.reason) ?? 0) + 1);
  }

  /** One log line, never the payload: what the record was, how big, its hash, and why it failed. */
  private giveUp(record: AnyDeadLetterRecord | undefined, reason: string, err: unknown, attempts: number): void {
    this.metrics.deadLetterWriteFailuresTotal.inc();
    this.failed++;
    // The store's own error (RETRY_EXHAUSTED wraps the last one as its cause).
    const last = err instanceof StoreError ? err : (err as { cause?: unknown } | undefined)?.cause;
    const e = (last instanceof StoreError ? { name: last.label, message: last.message } : (err ?? {})) as { name?: unknown; message?: unknown };
    this.log.error(
      {
        id: record?.id,
        deviceId: record?.deviceId,
        reason,
        payloadSizeBytes: record?.payloadSizeBytes,
        payloadSha256: record?.payloadSha256,
        attempts,
        errorName: typeof e.name === 'string' ? e.name : 'Error',
        errorMessage: String(e.message ?? err).slice(0, MAX_LOGGED_ERROR_CHARS),
      },
      'dead-letter record could not be written; it is lost (counted in iot_ingest_dead_letter_write_failures_total)',
    );
  }

  private summarise(): void {
    const total = [...this.written.values()].reduce((a, b) => a + b, 0);
    if (total === 0 && this.dropped === 0 && this.failed === 0) return;
    const byReason = Object.fromEntries(this.written);
    const { dropped, failed } = this;
    this.written.clear();
    this.dropped = 0;
    this.failed = 0;
    this.log.warn({ byReason, total, dropped, failed }, `dead-lettered ${total} message(s) in the last ${SUMMARY_INTERVAL_MS / 1000} s (${dropped} QoS 0 dropped: overloaded, ${failed} failed)`);
  }
}
