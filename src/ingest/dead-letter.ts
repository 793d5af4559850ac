// The dead-letter store: invalid payloads and readings DynamoDB refuses, each with its reason and
// the original payload in base64, shaped after the AWS IoT rule error-action envelope. Writes are
// retried a few times; a record that still cannot be written is logged whole (payload included) so
// nothing disappears without a trace. Storms are summarised in the log, not logged one by one.
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics/registry.ts';
import { classifyError } from '../storage/errors.ts';
import { computeBackoffMs } from './backoff.ts';
import type { DeadLetterReason } from './reading.ts';

export interface DeadLetterRecord {
  readonly id: string;
  readonly deviceId: string;
  readonly topic: string;
  readonly clientId: string | null;
  readonly reason: DeadLetterReason;
  readonly errorMessage: string;
  readonly base64OriginalPayload: string;
  /** Epoch ms at which the broker received the message. */
  readonly receivedAt: number;
  readonly qos: number;
  readonly expiresAt?: number;
}

export interface DeadLetterInput {
  readonly deviceId: string;
  readonly topic: string;
  readonly clientId: string | null;
  readonly reason: DeadLetterReason;
  readonly errorMessage: string;
  readonly payload: Uint8Array;
  readonly receivedAt: number;
  readonly qos: number;
}

const ATTEMPTS = 4;
const SUMMARY_INTERVAL_MS = 10_000;

export class DeadLetterWriter {
  private readonly pending = new Set<Promise<void>>();
  private readonly counts = new Map<string, number>();
  private readonly summaryTimer: NodeJS.Timeout;

  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly retentionDays: number | undefined,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {
    this.summaryTimer = setInterval(() => this.summarise(), SUMMARY_INTERVAL_MS).unref();
  }

  /** Writes one record; never rejects (failures are counted and logged). */
  write(input: DeadLetterInput): Promise<void> {
    const record = toRecord(input, this.retentionDays);
    this.metrics.deadLetteredTotal.inc({ reason: input.reason });
    this.counts.set(input.reason, (this.counts.get(input.reason) ?? 0) + 1);
    const p = this.put(record).finally(() => this.pending.delete(p));
    this.pending.add(p);
    return p;
  }

  /** Waits for the writes in progress (shutdown). */
  async flush(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
    clearInterval(this.summaryTimer);
    this.summarise();
  }

  private async put(record: DeadLetterRecord): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.doc.send(new PutCommand({ TableName: this.tableName, Item: { ...record } }));
        return;
      } catch (err) {
        if (!classifyError(err).retriable || attempt + 1 >= ATTEMPTS) {
          this.metrics.deadLetterWriteFailuresTotal.inc();
          this.log.error({ err, record }, 'dead-letter record could not be written; it is logged here instead');
          return;
        }
        await sleep(computeBackoffMs(attempt, { baseMs: 50, capMs: 1000 }));
      }
    }
  }

  private summarise(): void {
    if (this.counts.size === 0) return;
    const byReason = Object.fromEntries(this.counts);
    const total = [...this.counts.values()].reduce((a, b) => a + b, 0);
    this.counts.clear();
    this.log.warn({ byReason, total }, `dead-lettered ${total} message(s) in the last ${SUMMARY_INTERVAL_MS / 1000} s`);
  }
}

export function toRecord(input: DeadLetterInput, retentionDays: number | undefined): DeadLetterRecord {
  return {
    id: `${input.receivedAt.toString().padStart(13, '0')}-${randomBytes(6).toString('hex')}`,
    deviceId: input.deviceId,
    topic: input.topic,
    clientId: input.clientId,
    reason: input.reason,
    errorMessage: input.errorMessage,
    base64OriginalPayload: Buffer.from(input.payload).toString('base64'),
    receivedAt: input.receivedAt,
    qos: input.qos,
    ...(retentionDays === undefined ? {} : { expiresAt: Math.floor(input.receivedAt / 1000) + retentionDays * 86_400 }),
  };
}
