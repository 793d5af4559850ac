// GET /devices and GET /devices/{id}: the registry as operators read it. Online status, last seen,
// last reading time and latest reading; never the identity work's secret fields (a projection).
// The list is a paginated Scan (cursor = the last key, base64url); one device's latest reading is
// read from the telemetry table itself (newest first, one item), so it is exact, not coalesced.
import { GetCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { queryReadings } from '../storage/readings-query.ts';
import { VIEW_ATTRIBUTES } from './table.ts';

export interface DeviceView {
  readonly deviceId: string;
  readonly online: boolean;
  readonly [attribute: string]: unknown;
}

export interface DevicesPage {
  readonly items: DeviceView[];
  readonly next?: string;
}

const projection = {
  ProjectionExpression: VIEW_ATTRIBUTES.map((_, i) => `#a${i}`).join(', '),
  names: Object.fromEntries(VIEW_ATTRIBUTES.map((a, i) => [`#a${i}`, a])),
};

function view(item: Record<string, unknown>): DeviceView {
  return { ...item, deviceId: String(item.deviceId), online: item.connected === true };
}

export function encodeCursor(key: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

export function decodeCursor(cursor: string): Record<string, unknown> | undefined {
  try {
    const key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    return typeof key === 'object' && key !== null && typeof (key as { deviceId?: unknown }).deviceId === 'string' ? (key as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export async function listDevices(
  doc: DynamoDBDocumentClient,
  tableName: string,
  q: { limit: number; online?: boolean | undefined; cursor?: Record<string, unknown> | undefined },
): Promise<DevicesPage> {
  const items: DeviceView[] = [];
  let start = q.cursor;
  const filter =
    q.online === undefined
      ? {}
      : {
          FilterExpression: q.online ? '#c = :t' : 'attribute_not_exists(#c) OR #c = :f',
          ExpressionAttributeValues: q.online ? { ':t': true } : { ':f': false },
        };
  // A filtered Scan page may hold fewer matches than asked: keep reading until full or done.
  do {
    const page = await doc.send(
      new ScanCommand({
        TableName: tableName,
        Limit: q.limit - items.length,
        ExclusiveStartKey: start,
        ProjectionExpression: projection.ProjectionExpression,
        ExpressionAttributeNames: { ...projection.names, ...(q.online === undefined ? {} : { '#c': 'connected' }) },
        ...filter,
      }),
    );
    for (const item of page.Items ?? []) items.push(view(item));
    start = page.LastEvaluatedKey;
  } while (start && items.length < q.limit);
  items.sort((a, b) => a.deviceId.localeCompare(b.deviceId));
  return { items, ...(start ? { next: encodeCursor(start) } : {}) };
}

export async function getDevice(doc: DynamoDBDocumentClient, devicesTable: string, telemetryTable: string, deviceId: string): Promise<DeviceView | undefined> {
  const [registry, newest] = await Promise.all([
    doc.send(new GetCommand({ TableName: devicesTable, Key: { deviceId }, ProjectionExpression: projection.ProjectionExpression, ExpressionAttributeNames: projection.names, ConsistentRead: true })),
    queryReadings(doc, telemetryTable, { deviceId, fromMs: 0, toMs: 9_999_999_999_999, limit: 1, newestFirst: true }),
  ]);
  const latest = newest.items[0];
  if (!registry.Item && !latest) return undefined;
  const item: Record<string, unknown> = { ...(registry.Item ?? { deviceId }) };
  if (latest) {
    item.lastReading = latest;
    const receivedAt = typeof latest.receivedAt === 'number' ? latest.receivedAt : undefined;
    if (receivedAt !== undefined && receivedAt > (typeof item.lastReadingAt === 'number' ? item.lastReadingAt : 0)) item.lastReadingAt = receivedAt;
  }
  return view(item);
}
