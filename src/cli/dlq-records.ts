// Reading and filtering the dead-letter table for `iot-ingest dlq`: a full scan (the table is keyed
// by record id only), filtered by reason, device and receive time, oldest first.
import { DeleteCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { AnyDeadLetterRecord } from '../ingest/dead-letter.ts';

export interface DlqFilter {
  readonly reason?: string | undefined;
  readonly device?: string | undefined;
  /** Only records received at or after this epoch ms. */
  readonly sinceMs?: number | undefined;
}

export function matches(r: AnyDeadLetterRecord, f: DlqFilter): boolean {
  return (f.reason === undefined || r.reason === f.reason)
    && (f.device === undefined || r.deviceId === f.device)
    && (f.sinceMs === undefined || r.receivedAt >= f.sinceMs);
}

/** Matching records, oldest first (by receive time, then id), at most `limit`. */
export async function scanRecords(doc: DynamoDBDocumentClient, table: string, filter: DlqFilter, limit: number): Promise<AnyDeadLetterRecord[]> {
  const records: AnyDeadLetterRecord[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(new ScanCommand({ TableName: table, ExclusiveStartKey: start }));
    for (const item of (page.Items ?? []) as AnyDeadLetterRecord[]) if (matches(item, filter)) records.push(item);
    start = page.LastEvaluatedKey;
  } while (start);
  records.sort((a, b) => a.receivedAt - b.receivedAt || a.id.localeCompare(b.id));
  return records.slice(0, limit);
}

export async function deleteRecord(doc: DynamoDBDocumentClient, table: string, id: string): Promise<void> {
  await doc.send(new DeleteCommand({ TableName: table, Key: { id } }));
}

/** The original payload (or its kept preview) as text when it is short, printable UTF-8; undefined otherwise. */
export function payloadText(r: AnyDeadLetterRecord): string | undefined {
  const payload = Buffer.from('base64OriginalPayload' in r ? r.base64OriginalPayload : r.base64PayloadPreview, 'base64');
  return payload.length <= 4096 && !payload.includes(0) ? payload.toString('utf8') : undefined;
}
