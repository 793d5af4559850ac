// Encodes a reading straight into DynamoDB's wire JSON (the AttributeValue form BatchWriteItem
// carries), once, with no intermediate item object and no SDK marshalling: string concatenation of
// JSON.stringify'd strings and canonical number texts. test/unit/wire.test.ts proves it equal to
// the SDK's `marshall` over generated readings. Values the store cannot keep exactly are refused
// by decoding first (src/ingest/decode.ts); what still cannot be encoded throws WireEncodeError,
// which concerns that one reading only.
import type { AttributeValue, Reading } from '../../ingest/reading.ts';

const SECONDS_PER_DAY = 86_400;

export class WireEncodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WireEncodeError';
  }
}

/** The reading as one DynamoDB item in wire JSON: {deviceId, ts, receivedAt, ...attributes, expiresAt?}. */
export function encodeItem(reading: Reading, retentionDays: number | undefined): string {
  let out = '{';
  const attributes = reading.attributes;
  for (const name in attributes) {
    out += memberPrefix(name) + encodeValue(attributes[name] as AttributeValue, name) + ',';
  }
  out += '"deviceId":{"S":' + JSON.stringify(reading.deviceId) + '},"ts":{"N":"' + numberText(reading.ts, 'ts') + '"},"receivedAt":{"N":"' + numberText(reading.receivedAt, 'receivedAt') + '"}';
  if (retentionDays !== undefined) {
    out += ',"expiresAt":{"N":"' + numberText(Math.floor(reading.ts / 1000) + retentionDays * SECONDS_PER_DAY, 'expiresAt') + '"}';
  }
  return out + '}';
}

/** `"name":` of the attribute names seen lately (devices repeat them), bounded. */
const prefixes = new Map<string, string>();
const MAX_PREFIXES = 4096;

function memberPrefix(name: string): string {
  let prefix = prefixes.get(name);
  if (prefix === undefined) {
    if (prefixes.size >= MAX_PREFIXES) prefixes.clear();
    prefix = JSON.stringify(name) + ':';
    prefixes.set(name, prefix);
  }
  return prefix;
}

export function encodeValue(value: AttributeValue, path: string): string {
  switch (typeof value) {
    case 'string':
      return '{"S":' + JSON.stringify(value) + '}';
    case 'number':
      return '{"N":"' + numberText(value, path) + '"}';
    case 'boolean':
      return value ? '{"BOOL":true}' : '{"BOOL":false}';
    case 'object': {
      if (value === null) return '{"NULL":true}';
      if (Array.isArray(value)) {
        let out = '{"L":[';
        for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ',') + encodeValue(value[i] as AttributeValue, path);
        return out + ']}';
      }
      let out = '{"M":{';
      let first = true;
      for (const k in value) {
        out += (first ? '' : ',') + JSON.stringify(k) + ':' + encodeValue(value[k] as AttributeValue, path);
        first = false;
      }
      return out + '}}';
    }
    default:
      throw new WireEncodeError(`${path}: ${typeof value} cannot be stored`);
  }
}

/** DynamoDB's N range: magnitude 1e-130 .. < 1e126 (38 significant digits; a double has at most 17). */
function numberText(n: number, path: string): string {
  if (!Number.isFinite(n)) throw new WireEncodeError(`${path}: ${n} cannot be stored`);
  const abs = Math.abs(n);
  if (abs !== 0 && (abs >= 1e126 || abs < 1e-130)) throw new WireEncodeError(`${path}: ${n} is outside DynamoDB's number range`);
  return String(n);
}

/** BatchWriteItem's body for one table, around already encoded items. */
export function batchWriteBody(tableName: string, items: readonly string[]): string {
  let out = '{"RequestItems":{' + JSON.stringify(tableName) + ':[';
  for (let i = 0; i < items.length; i++) out += (i === 0 ? '{"PutRequest":{"Item":' : ',{"PutRequest":{"Item":') + items[i] + '}}';
  return out + ']},"ReturnConsumedCapacity":"TOTAL"}';
}
