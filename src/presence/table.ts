// The device registry table (deviceId S HASH), as far as presence is concerned. The identity work
// owns the item (status, secret hash, ...); presence writes only its own attributes, with
// UpdateItem, and never reads or returns the others except the ones listed in VIEW_ATTRIBUTES.
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/** What presence writes on a device's registry item. */
export interface PresenceAttributes {
  connected?: boolean;
  /** Epoch ms of the last sign of life (connect, ping, publish, disconnect). */
  lastSeenAt?: number;
  lastConnectAt?: number;
  lastDisconnectAt?: number;
  disconnectReason?: string;
  replica?: string;
  sourceAddress?: string;
  /** Epoch ms at which the latest reading was received. */
  lastReadingAt?: number;
  /** The latest stored reading (the telemetry item), or {ts, truncated} when large. */
  lastReading?: Record<string, unknown>;
}

/** Registry attributes the API shows; never secrets. */
export const VIEW_ATTRIBUTES = [
  'deviceId',
  'status',
  'createdAt',
  'connected',
  'lastSeenAt',
  'lastConnectAt',
  'lastDisconnectAt',
  'disconnectReason',
  'replica',
  'sourceAddress',
  'lastReadingAt',
  'lastReading',
] as const;

/**
 * Writes presence attributes. `connectAt` guards connection state across replicas: the write applies
 * only while no later connection (elsewhere) has been recorded. Returns false when superseded.
 */
export async function writePresence(
  doc: DynamoDBDocumentClient,
  tableName: string,
  deviceId: string,
  attributes: PresenceAttributes,
  connectAt: number | undefined,
): Promise<boolean> {
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  const sets: string[] = [];
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined) continue;
    names[`#${key}`] = key;
    values[`:${key}`] = value;
    sets.push(`#${key} = :${key}`);
  }
  if (sets.length === 0) return true;
  let condition: string | undefined;
  if (connectAt !== undefined) {
    names['#lca'] = 'lastConnectAt';
    values[':guard'] = connectAt;
    condition = 'attribute_not_exists(#lca) OR #lca <= :guard';
  }
  try {
    await doc.send(
      new UpdateCommand({
        TableName: tableName,
        Key: { deviceId },
        UpdateExpression: `SET ${sets.join(', ')}`,
        ...(condition ? { ConditionExpression: condition } : {}),
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      }),
    );
    return true;
  } catch (err) {
    if ((err as Error).name === 'ConditionalCheckFailedException') return false;
    throw err;
  }
}
