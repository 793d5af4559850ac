// Replays dead-lettered messages straight into the telemetry table: each record's original payload
// is decoded again with the limits given (the service's settings, so a raised limit takes effect)
// and its readings written with BatchWriteItem. Per record the outcome is `stored` (readings
// written, then the record deleted: a second replay finds nothing), `rejected` (still invalid: the
// record stays, under its own id, with the new reason written into it) or `failed` (the store
// refused or could not be reached: the record stays as it was). Nothing goes through the broker, so
// a message that fails again is never dead-lettered a second time under a new id.
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { DecodeLimits } from '../ingest/decode.ts';
import { decodeTelemetry } from '../ingest/decode.ts';
import type { AnyDeadLetterRecord } from '../ingest/dead-letter.ts';
import { toItem } from '../storage/item.ts';
import { createDynamoTelemetryStore } from '../storage/telemetry-store.ts';
import type { TelemetryItem } from '../storage/item.ts';
import { deleteRecord } from './dlq-records.ts';
import { resendLeftovers } from '../retry.ts';

export type ReplayOutcome =
  | { readonly id: string; readonly deviceId: string; readonly outcome: 'stored'; readonly readings: number }
  | { readonly id: string; readonly deviceId: string; readonly outcome: 'rejected'; readonly reason: string; readonly message: string }
  | { readonly id: string; readonly deviceId: string; readonly outcome: 'failed'; readonly message: string };

export interface ReplayOptions {
  readonly doc: DynamoDBDocumentClient;
  readonly tableName: string;
  readonly dlqTableName: string;
  readonly limits: DecodeLimits;
  readonly retentionDays: number | undefined;
  /** Decode only: report what would happen, write and delete nothing. */
  readonly dryRun: boolean;
}

const BATCH = 25;
const UNPROCESSED_ATTEMPTS = 5;

async function writeAll(doc: DynamoDBDocumentClient, table: string, items: readonly TelemetryItem[]): Promise<void> {
  const store = createDynamoTelemetryStore(doc, table);
  // Readings of one message with the same ts: the last wins, as on the ingest path.
  const byTs = new Map(items.map((i) => [i.ts as number, i]));
  const unique = [...byTs.values()];
  for (let i = 0; i < unique.length; i += BATCH) {
    await resendLeftovers(unique.slice(i, i + BATCH), async (batch) => (await store.writeBatch(batch)).unprocessed, { maxAttempts: UNPROCESSED_ATTEMPTS, what: `table "${table}": readings` });
  }
}

export async function replayRecord(r: AnyDeadLetterRecord, o: ReplayOptions): Promise<ReplayOutcome> {
  const base = { id: r.id, deviceId: r.deviceId };
  // An oversized payload was kept as a preview with its size and hash: there is nothing to replay.
  if (!('base64OriginalPayload' in r)) {
    return { ...base, outcome: 'rejected', reason: 'payload_truncated', message: `only a preview of the ${r.payloadSizeBytes}-byte payload was kept (sha256 ${r.payloadSha256}); it cannot be replayed` };
  }
  const decoded = decodeTelemetry(Buffer.from(r.base64OriginalPayload, 'base64'), r.deviceId, r.receivedAt, o.limits);
  if (!decoded.ok) {
    if (!o.dryRun && (decoded.reason !== r.reason || decoded.message !== r.errorMessage)) {
      await o.doc.send(new PutCommand({ TableName: o.dlqTableName, Item: { ...r, reason: decoded.reason, errorMessage: decoded.message } }));
    }
    return { ...base, outcome: 'rejected', reason: decoded.reason, message: decoded.message };
  }
  if (o.dryRun) return { ...base, outcome: 'stored', readings: decoded.readings.length };
  try {
    await writeAll(o.doc, o.tableName, decoded.readings.map((reading) => toItem(reading, o.retentionDays)));
  } catch (err) {
    const e = err as Error;
    if (e.name === 'ValidationException') return { ...base, outcome: 'rejected', reason: 'rejected_by_store', message: e.message };
    return { ...base, outcome: 'failed', message: `${e.name}: ${e.message}` };
  }
  await deleteRecord(o.doc, o.dlqTableName, r.id);
  return { ...base, outcome: 'stored', readings: decoded.readings.length };
}
