// The device registry's item: one per device in the `devices` table (deviceId S HASH). The registry
// owns status, the secret hashes and the free attributes; presence fields (connected, lastSeenAt,
// replica, sourceAddress, lastReadingAt) are written on the same item by the presence tracker, so
// every change here is an UpdateItem or a conditional PutItem that leaves unknown attributes alone.
import type { TableSpec } from '../storage/tables.ts';

export const DEVICE_STATUSES = ['active', 'revoked'] as const;
export type DeviceStatus = (typeof DEVICE_STATUSES)[number];

/** Free attributes of a device (model, site, ...), stored as one map so they never collide with the registry's own fields. */
export type DeviceAttributes = Record<string, string>;

export interface DeviceRecord {
  readonly deviceId: string;
  readonly status: DeviceStatus;
  /** $scrypt$... string (secrets.ts); absent for devices that authenticate by certificate only. */
  readonly secretHash?: string | undefined;
  /** The secret before the last rotation, valid until previousSecretExpiresAt (epoch ms). */
  readonly previousSecretHash?: string | undefined;
  readonly previousSecretExpiresAt?: number | undefined;
  /** Epoch milliseconds. */
  readonly createdAt: number;
  readonly rotatedAt?: number | undefined;
  readonly revokedAt?: number | undefined;
  readonly attributes: DeviceAttributes;
  /** Everything else on the item (presence fields), shown by `devices show` as it is. */
  readonly other: Record<string, unknown>;
}

const DEVICE_ID = /^[A-Za-z0-9_.:-]{1,128}$/;

/** Device ids are what telemetry topics carry: 1-128 chars of [A-Za-z0-9_.:-]. */
export function isValidDeviceId(id: string): boolean {
  return DEVICE_ID.test(id);
}

export function devicesTableSpec(name: string): TableSpec {
  return {
    name,
    keySchema: [{ AttributeName: 'deviceId', KeyType: 'HASH' }],
    attributes: [{ AttributeName: 'deviceId', AttributeType: 'S' }],
  };
}

const OWN_FIELDS = new Set(['deviceId', 'status', 'secretHash', 'previousSecretHash', 'previousSecretExpiresAt', 'createdAt', 'rotatedAt', 'revokedAt', 'attributes']);

/** Whether an item is a registered device (and not only presence fields of a device seen unregistered). */
export function isRegistered(item: Record<string, unknown>): boolean {
  return typeof item.status === 'string';
}

/** A stored item as a record; unknown status values read as revoked (fail closed). */
export function fromItem(item: Record<string, unknown>): DeviceRecord {
  const other: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(item)) if (!OWN_FIELDS.has(k)) other[k] = v;
  const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);
  const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
  return {
    deviceId: String(item.deviceId),
    status: item.status === 'active' ? 'active' : 'revoked',
    secretHash: str(item.secretHash),
    previousSecretHash: str(item.previousSecretHash),
    previousSecretExpiresAt: num(item.previousSecretExpiresAt),
    createdAt: num(item.createdAt) ?? 0,
    rotatedAt: num(item.rotatedAt),
    revokedAt: num(item.revokedAt),
    attributes: (item.attributes && typeof item.attributes === 'object' ? item.attributes : {}) as DeviceAttributes,
    other,
  };
}

/** The registry's fields of a new device (written with a condition, so it never replaces a registered one). */
export function newDeviceItem(deviceId: string, secretHash: string, attributes: DeviceAttributes, nowMs: number): Record<string, unknown> {
  return { deviceId, status: 'active', secretHash, createdAt: nowMs, attributes };
}

/** The hashes a presented secret may match at `nowMs`: the current one and, during a rotation overlap, the previous one. */
export function acceptedHashes(record: DeviceRecord, nowMs: number): string[] {
  const hashes: string[] = [];
  if (record.secretHash) hashes.push(record.secretHash);
  if (record.previousSecretHash && (record.previousSecretExpiresAt ?? 0) > nowMs) hashes.push(record.previousSecretHash);
  return hashes;
}

/** A record for printing: hashes are never shown, only whether a rotation overlap is running. */
export function describeRecord(record: DeviceRecord, nowMs: number): Record<string, unknown> {
  return {
    deviceId: record.deviceId,
    status: record.status,
    createdAt: new Date(record.createdAt).toISOString(),
    ...(record.rotatedAt ? { rotatedAt: new Date(record.rotatedAt).toISOString() } : {}),
    ...(record.revokedAt ? { revokedAt: new Date(record.revokedAt).toISOString() } : {}),
    ...(record.previousSecretExpiresAt && record.previousSecretExpiresAt > nowMs ? { previousSecretValidUntil: new Date(record.previousSecretExpiresAt).toISOString() } : {}),
    attributes: record.attributes,
    ...record.other,
  };
}
