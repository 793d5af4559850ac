// The device registry over the `devices` table: add (secret generated here and returned once),
// get, batch get, list, revoke and rotate. Only hashes are stored. Changes are conditional writes
// and UpdateItems, so attributes another component keeps on the item (presence) survive them.
import { BatchGetCommand, GetCommand, ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { IngestError } from '../errors.ts';
import { resendLeftovers } from '../retry.ts';
import { fromItem, isRegistered, isValidDeviceId, newDeviceItem } from './device-record.ts';
import type { DeviceAttributes, DeviceRecord } from './device-record.ts';
import { DEFAULT_HASH_COST, generateSecret, hashSecret } from './secrets.ts';
import type { HashCost } from './secrets.ts';

/** BatchGetItem takes at most 100 keys. */
const BATCH_GET_KEYS = 100;
const MAX_ATTEMPTS = 8;

export interface ListPage {
  readonly records: DeviceRecord[];
  readonly next?: Record<string, unknown> | undefined;
}

export class DeviceRegistry {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    readonly tableName: string,
    private readonly now: () => number = Date.now,
  ) {}

  /** Provisions a device; returns its secret, which is never stored or shown again. */
  async add(deviceId: string, attributes: DeviceAttributes = {}, cost: HashCost = DEFAULT_HASH_COST): Promise<string> {
    checkId(deviceId);
    const secret = generateSecret();
    const { deviceId: _key, ...fields } = newDeviceItem(deviceId, await hashSecret(secret, cost), attributes, this.now());
    const names = Object.keys(fields);
    try {
      // UpdateItem, not PutItem: presence fields already on the item (a device seen before it was
      // registered) are kept; only an item that is already a registered device is refused.
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { deviceId },
          UpdateExpression: `SET ${names.map((_, i) => `#f${i} = :v${i}`).join(', ')}`,
          ConditionExpression: 'attribute_not_exists(#status)',
          ExpressionAttributeNames: { '#status': 'status', ...Object.fromEntries(names.map((n, i) => [`#f${i}`, n])) },
          ExpressionAttributeValues: Object.fromEntries(names.map((n, i) => [`:v${i}`, fields[n]])),
        }),
      );
    } catch (err) {
      if ((err as Error).name === 'ConditionalCheckFailedException') throw new IngestError('DEVICE_EXISTS', `device "${deviceId}" already exists (rotate its secret with: iot-ingest devices rotate ${deviceId})`);
      throw err;
    }
    return secret;
  }

  async get(deviceId: string): Promise<DeviceRecord | undefined> {
    const out = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: { deviceId }, ConsistentRead: true }));
    return out.Item && isRegistered(out.Item) ? fromItem(out.Item) : undefined;
  }

  /** Records of `ids` (missing ids are absent from the map), 100 keys per request, unprocessed keys resent. */
  async getMany(ids: readonly string[]): Promise<Map<string, DeviceRecord>> {
    const found = new Map<string, DeviceRecord>();
    const unique = [...new Set(ids)];
    for (let i = 0; i < unique.length; i += BATCH_GET_KEYS) {
      const keys = unique.slice(i, i + BATCH_GET_KEYS).map((deviceId): Record<string, unknown> => ({ deviceId }));
      await resendLeftovers(keys, async (batch) => {
        const out = await this.doc.send(new BatchGetCommand({ RequestItems: { [this.tableName]: { Keys: [...batch], ConsistentRead: true } } }));
        for (const item of out.Responses?.[this.tableName] ?? []) if (isRegistered(item)) found.set(String(item.deviceId), fromItem(item));
        return (out.UnprocessedKeys?.[this.tableName]?.Keys ?? []) as Record<string, unknown>[];
      }, { maxAttempts: MAX_ATTEMPTS, what: `devices table "${this.tableName}": keys` });
    }
    return found;
  }

  /** One page of devices (Scan; the order is the table's). */
  async list(limit: number, start?: Record<string, unknown>): Promise<ListPage> {
    const out = await this.doc.send(new ScanCommand({ TableName: this.tableName, Limit: limit, ExclusiveStartKey: start }));
    return { records: (out.Items ?? []).filter(isRegistered).map(fromItem), next: out.LastEvaluatedKey };
  }

  /** Marks the device revoked and drops any rotation overlap; connected replicas close it within their cache TTL. */
  async revoke(deviceId: string): Promise<DeviceRecord> {
    try {
      const out = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { deviceId },
          UpdateExpression: 'SET #status = :revoked, revokedAt = :now REMOVE previousSecretHash, previousSecretExpiresAt',
          ConditionExpression: 'attribute_exists(#status)',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':revoked': 'revoked', ':now': this.now() },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return fromItem(out.Attributes ?? {});
    } catch (err) {
      if ((err as Error).name === 'ConditionalCheckFailedException') throw notFound(deviceId);
      throw err;
    }
  }

  /**
   * Gives an active device a new secret. The old one stays valid for `overlapSeconds` (0: at once
   * invalid), so a fleet can be re-provisioned without an outage. Returns the new secret, once.
   */
  async rotate(deviceId: string, overlapSeconds: number, cost: HashCost = DEFAULT_HASH_COST): Promise<{ secret: string; previousValidUntil: number | undefined }> {
    const current = await this.get(deviceId);
    if (!current) throw notFound(deviceId);
    if (current.status !== 'active') throw new IngestError('DEVICE_REVOKED', `device "${deviceId}" is revoked; a revoked device is not given a new secret (add it under a new id)`);
    const secret = generateSecret();
    const hash = await hashSecret(secret, cost);
    const now = this.now();
    const keepPrevious = overlapSeconds > 0 && current.secretHash !== undefined;
    const previousValidUntil = keepPrevious ? now + overlapSeconds * 1000 : undefined;
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { deviceId },
          UpdateExpression: keepPrevious
            ? 'SET secretHash = :new, rotatedAt = :now, previousSecretHash = :old, previousSecretExpiresAt = :until'
            : 'SET secretHash = :new, rotatedAt = :now REMOVE previousSecretHash, previousSecretExpiresAt',
          // Optimistic: fails if the device was revoked or rotated since it was read.
          ConditionExpression: '#status = :active AND ' + (current.secretHash === undefined ? 'attribute_not_exists(secretHash)' : 'secretHash = :old'),
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':new': hash,
            ':now': now,
            ':active': 'active',
            ...(current.secretHash === undefined ? {} : { ':old': current.secretHash }),
            ...(keepPrevious ? { ':until': previousValidUntil } : {}),
          },
        }),
      );
    } catch (err) {
      if ((err as Error).name === 'ConditionalCheckFailedException') throw new IngestError('DEVICE_EXISTS', `device "${deviceId}" changed while rotating (revoked or rotated elsewhere); try again`);
      throw err;
    }
    return { secret, previousValidUntil };
  }
}

function checkId(deviceId: string): void {
  if (!isValidDeviceId(deviceId)) throw new IngestError('CONFIG_INVALID', `device id "${deviceId}" is not valid: 1-128 chars of [A-Za-z0-9_.:-]`);
}

function notFound(deviceId: string): IngestError {
  return new IngestError('DEVICE_NOT_FOUND', `no device "${deviceId}" in the registry (list them with: iot-ingest devices list)`);
}
