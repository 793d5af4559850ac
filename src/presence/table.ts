// The device registry table (deviceId S HASH), as far as presence is concerned. The identity work
// owns the item (status, secret hash, ...); presence writes only its own attributes, with
// UpdateItem, and never reads or returns the others except the ones listed in VIEW_ATTRIBUTES.
//
// The UpdateItem goes out as one JSON body, its values marshalled by the SDK's own marshaller with the
// document client's options (src/storage/client.ts), signed and posted by the write path's signed
// transport (src/storage/dynamodb/http-transport.ts) instead of through the document client: on the
// broker's thread, a connect storm of 1,000 devices is about 2,000 of these, and the client's
// per-request middleware and schema serialisation cost as much as the readings stored meanwhile.
import { marshall } from '@aws-sdk/util-dynamodb';
import { MARSHALL_OPTIONS } from '../storage/client.ts';
import type { SignedRequester } from '../storage/dynamodb/http-transport.ts';
import type { TelemetryItem } from '../storage/item.ts';
import { StoreError } from '../storage/errors.ts';

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
  lastReading?: TelemetryItem | { ts: number; truncated: true };
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

const UPDATE_ITEM = 'DynamoDB_20120810.UpdateItem';

/**
 * The UpdateItem request that writes `attributes` (undefined ones left out) on the device's item, as
 * JSON; undefined when there is nothing to write. `connectAt` guards connection state across
 * replicas: the write applies only while no later connection (elsewhere) has been recorded.
 */
function presenceUpdateBody(tableName: string, deviceId: string, attributes: PresenceAttributes, connectAt: number | undefined): string | undefined {
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  const sets: string[] = [];
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined) continue;
    names[`#${key}`] = key;
    values[`:${key}`] = value;
    sets.push(`#${key} = :${key}`);
  }
  if (sets.length === 0) return undefined;
  let condition: string | undefined;
  if (connectAt !== undefined) {
    names['#lca'] = 'lastConnectAt';
    values[':guard'] = connectAt;
    condition = 'attribute_not_exists(#lca) OR #lca <= :guard';
  }
  return JSON.stringify({
    TableName: tableName,
    Key: marshall({ deviceId }, MARSHALL_OPTIONS),
    UpdateExpression: `SET ${sets.join(', ')}`,
    ...(condition ? { ConditionExpression: condition } : {}),
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: marshall(values, MARSHALL_OPTIONS),
  });
}

/**
 * Writes presence attributes (see presenceUpdateBody). Returns false when superseded by a later
 * connection; any other refusal or failure rejects with the StoreError of its class.
 */
export async function writePresence(
  requester: SignedRequester,
  tableName: string,
  deviceId: string,
  attributes: PresenceAttributes,
  connectAt: number | undefined,
): Promise<boolean> {
  const body = presenceUpdateBody(tableName, deviceId, attributes, connectAt);
  if (body === undefined) return true;
  try {
    await requester.request(UPDATE_ITEM, body);
    return true;
  } catch (err) {
    if (err instanceof StoreError && err.label === 'ConditionalCheckFailedException') return false;
    throw err;
  }
}
