// Reads readings back: one device, a time range, newest or oldest first, paginated. Used by the
// HTTP read API and the `query` subcommand.
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

export interface ReadingsQuery {
  readonly deviceId: string;
  readonly fromMs: number;
  readonly toMs: number;
  readonly limit: number;
  readonly newestFirst?: boolean;
  /** The `next` value of a previous page. */
  readonly cursor?: string | undefined;
}

export interface ReadingsPage {
  readonly items: Record<string, unknown>[];
  /** Pass back as `cursor` to get the next page; absent on the last page. */
  readonly next?: string;
}

export async function queryReadings(doc: DynamoDBDocumentClient, table: string, q: ReadingsQuery): Promise<ReadingsPage> {
  const out = await doc.send(
    new QueryCommand({
      TableName: table,
      KeyConditionExpression: 'deviceId = :d AND ts BETWEEN :from AND :to',
      ExpressionAttributeValues: { ':d': q.deviceId, ':from': q.fromMs, ':to': q.toMs },
      Limit: q.limit,
      ScanIndexForward: !q.newestFirst,
      ...(q.cursor ? { ExclusiveStartKey: { deviceId: q.deviceId, ts: Number(q.cursor) } } : {}),
    }),
  );
  const last = out.LastEvaluatedKey?.ts;
  return { items: out.Items ?? [], ...(last === undefined ? {} : { next: String(last) }) };
}

/**
 * Parses a time given as epoch milliseconds (0 to 2^53 - 1, what a DynamoDB number keeps exactly
 * through the document client) or ISO-8601; undefined when it is neither.
 */
export function parseTime(value: string): number | undefined {
  if (/^\d+$/.test(value)) {
    const n = Number(value);
    return value.length <= 16 && Number.isSafeInteger(n) ? n : undefined;
  }
  if (!/^\d{4}-\d{2}-\d{2}/.test(value)) return undefined;
  const t = Date.parse(value);
  return Number.isNaN(t) || t < 0 ? undefined : t;
}
