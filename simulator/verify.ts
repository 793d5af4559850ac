// --verify: read back from DynamoDB every reading that got a PUBACK. One Query per device over the
// range of its acknowledged ts (key attributes only, paginated), then compare with the ledger:
// stored = acknowledged and found, missing = acknowledged but not found, unexpected = found in the
// range but never acknowledged (sent without a PUBACK, or another writer's readings).
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import pLimit from 'p-limit';
import type { AckLedger, DeviceAcks } from './ledger.ts';

export interface VerifyResult {
  readonly devices: number;
  readonly acked: number;
  readonly stored: number;
  readonly missing: number;
  readonly unexpected: number;
  /** Up to 10 missing readings, to look up by hand. */
  readonly missingSamples: ReadonlyArray<{ readonly deviceId: string; readonly ts: number }>;
  readonly queries: number;
  readonly durationMs: number;
}

export interface VerifySettings {
  readonly table: string;
  readonly concurrency: number;
}

const MAX_SAMPLES = 10;

interface DeviceCheck {
  stored: number;
  unexpected: number;
  queries: number;
  missing: number[];
}

async function checkDevice(doc: DynamoDBDocumentClient, table: string, deviceId: string, acks: DeviceAcks): Promise<DeviceCheck> {
  const found = new Set<number>();
  let unexpected = 0;
  let queries = 0;
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(new QueryCommand({
      TableName: table,
      KeyConditionExpression: '#d = :d AND #t BETWEEN :from AND :to',
      ExpressionAttributeNames: { '#d': 'deviceId', '#t': 'ts' },
      ExpressionAttributeValues: { ':d': deviceId, ':from': acks.minTs, ':to': acks.maxTs },
      ProjectionExpression: '#d, #t',
      ConsistentRead: true,
      ...(startKey === undefined ? {} : { ExclusiveStartKey: startKey }),
    }));
    queries += 1;
    for (const item of page.Items ?? []) {
      const ts = Number(item.ts);
      if (acks.ts.has(ts)) found.add(ts);
      else unexpected += 1;
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey !== undefined);
  const missing: number[] = [];
  if (found.size < acks.ts.size) {
    for (const ts of acks.ts) if (!found.has(ts)) missing.push(ts);
  }
  return { stored: found.size, unexpected, queries, missing };
}

export async function verifyAcknowledged(
  doc: DynamoDBDocumentClient,
  ledger: AckLedger,
  settings: VerifySettings,
): Promise<VerifyResult> {
  const started = performance.now();
  const limit = pLimit(settings.concurrency);
  const entries = [...ledger.entries()];
  const checks = await Promise.all(entries.map(([deviceId, acks]) =>
    limit(async () => ({ deviceId, ...(await checkDevice(doc, settings.table, deviceId, acks)) }))));
  const missingSamples: Array<{ deviceId: string; ts: number }> = [];
  let stored = 0;
  let missing = 0;
  let unexpected = 0;
  let queries = 0;
  for (const check of checks) {
    stored += check.stored;
    missing += check.missing.length;
    unexpected += check.unexpected;
    queries += check.queries;
    for (const ts of check.missing) {
      if (missingSamples.length < MAX_SAMPLES) missingSamples.push({ deviceId: check.deviceId, ts });
    }
  }
  return {
    devices: entries.length,
    acked: ledger.size,
    stored,
    missing,
    unexpected,
    missingSamples,
    queries,
    durationMs: performance.now() - started,
  };
}
