// Turns one PUBLISH payload into readings, or into the reason it is invalid. Pure and synchronous:
// the hot path counts the rejection instead of throwing. It agrees with the store on every value:
// numbers must be exact as doubles (exact-numbers.ts) and inside DynamoDB's range; every accepted
// value is written exactly by src/storage/dynamodb/wire.ts.
import { firstInexactNumber } from './exact-numbers.ts';
import { jsonSyntaxProblem } from './json-syntax.ts';
import { decodeFlatReading } from './flat-decode.ts';
import type { AttributeValue, InvalidReason, Reading } from './reading.ts';
import { FLAG_BYTES, Invalid, NUMBER_BYTES, PROTO, RESERVED_ATTRIBUTES, SERVER_ATTRIBUTES_BYTES, decodeTs } from './reading-rules.ts';

export { RESERVED_ATTRIBUTES } from './reading-rules.ts';

export interface DecodeLimits {
  readonly maxPayloadBytes: number;
  readonly maxReadingsPerMessage: number;
  readonly maxAttributesPerReading: number;
  readonly maxDepth: number;
  readonly maxFutureSkewMs: number;
  readonly maxItemBytes: number;
}

export type DecodeResult =
  | { readonly ok: true; readonly readings: Reading[] }
  | { readonly ok: false; readonly reason: InvalidReason; readonly message: string };

const ATTRIBUTE_NAME = /^[A-Za-z0-9_]{1,64}$/;
/** DynamoDB numbers: magnitude between 1e-130 and 1e126. */
const MAX_NUMBER = 9.999999999999999e125;
const MIN_NUMBER = 1e-130;

const utf8 = new TextDecoder('utf-8', { fatal: true });


export function decodeTelemetry(
  payload: Uint8Array,
  deviceId: string,
  receivedAt: number,
  limits: DecodeLimits,
): DecodeResult {
  // Most payloads are one flat object: decided in one pass over the bytes (flat-decode.ts).
  const flat = decodeFlatReading(payload, deviceId, receivedAt, limits);
  if (flat !== undefined) return { ok: true, readings: [flat] };
  return decodeTelemetryGeneral(payload, deviceId, receivedAt, limits);
}

/** Every payload form and every refusal; decodeTelemetry runs it when the flat fast path declines. */
export function decodeTelemetryGeneral(
  payload: Uint8Array,
  deviceId: string,
  receivedAt: number,
  limits: DecodeLimits,
): DecodeResult {
  if (payload.byteLength > limits.maxPayloadBytes) {
    return invalid('payload_too_large', `payload is ${payload.byteLength} bytes, limit ${limits.maxPayloadBytes}`);
  }
  // Syntax first, on the bytes: a JSON.parse that throws would keep the whole payload alive (json-syntax.ts).
  const syntax = jsonSyntaxProblem(payload);
  if (syntax !== undefined) return invalid('malformed_json', `payload is not UTF-8 JSON: ${syntax}`);
  let doc: unknown;
  let text: string;
  try {
    text = utf8.decode(payload);
    doc = JSON.parse(text);
  } catch (err) {
    return invalid('malformed_json', `payload is not UTF-8 JSON: ${(err as Error).message}`);
  }
  // What decoding accepts, the store writes exactly: a number a double cannot hold is refused here.
  const inexact = firstInexactNumber(text);
  if (inexact !== undefined) {
    return invalid('inexact_number', `number ${inexact.slice(0, 60)} cannot be stored exactly (it would become ${Number(inexact)}); send it as a string, or with at most the precision of a 64-bit float`);
  }
  const entries: unknown[] = Array.isArray(doc) ? doc : [doc];
  if (entries.length === 0) return invalid('invalid_shape', 'empty array: no readings');
  if (entries.length > limits.maxReadingsPerMessage) {
    return invalid('too_many_readings', `${entries.length} readings in one message, limit ${limits.maxReadingsPerMessage}`);
  }
  const readings: Reading[] = [];
  try {
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i];
      // Without ts every reading of an array would get the receive time and overwrite the others.
      if (entries.length > 1 && isPlainObject(entry) && entry.ts === undefined) {
        throw new Invalid('invalid_ts', 'each reading of an array needs its own ts');
      }
      readings.push(decodeReading(entry, i, deviceId, receivedAt, limits));
    }
  } catch (err) {
    if (err instanceof Invalid) {
      const where = entries.length > 1 ? ` (reading ${readings.length})` : '';
      return invalid(err.reason, err.message + where);
    }
    throw err;
  }
  return { ok: true, readings };
}

function invalid(reason: InvalidReason, message: string): DecodeResult {
  return { ok: false, reason, message };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function decodeReading(
  entry: unknown,
  _index: number,
  deviceId: string,
  receivedAt: number,
  limits: DecodeLimits,
): Reading {
  if (!isPlainObject(entry)) {
    throw new Invalid('invalid_shape', 'a reading must be a JSON object');
  }
  let source: Record<string, unknown> = entry;
  if ('values' in entry) {
    const extra = Object.keys(entry).filter((k) => k !== 'ts' && k !== 'values');
    if (!isPlainObject(entry.values) || extra.length > 0) {
      throw new Invalid('invalid_shape', '{"ts", "values"} form: "values" must be an object and nothing else may stand beside it');
    }
    source = entry.values;
  }
  const ts = decodeTs(entry.ts, receivedAt, limits.maxFutureSkewMs);
  const attributes: Record<string, AttributeValue> = {};
  let count = 0;
  let sizeBytes = SERVER_ATTRIBUTES_BYTES + Buffer.byteLength(deviceId) + 8;
  for (const name of Object.keys(source)) {
    if (source === entry && name === 'ts') continue;
    if (RESERVED_ATTRIBUTES.has(name)) {
      throw new Invalid('reserved_attribute', `attribute "${name}" is reserved for the server`);
    }
    if (!ATTRIBUTE_NAME.test(name) || name === PROTO) {
      throw new Invalid('invalid_attribute_name', `attribute name ${JSON.stringify(name.slice(0, 80))} must be 1-64 chars of [A-Za-z0-9_]`);
    }
    if (++count > limits.maxAttributesPerReading) {
      throw new Invalid('too_many_attributes', `more than ${limits.maxAttributesPerReading} attributes in one reading`);
    }
    const value = source[name];
    sizeBytes += name.length + valueSize(value, name, 0, limits.maxDepth);
    attributes[name] = value as AttributeValue;
  }
  if (count === 0) throw new Invalid('empty_reading', 'a reading needs at least one attribute');
  if (sizeBytes > limits.maxItemBytes) {
    throw new Invalid('item_too_large', `item would be about ${sizeBytes} bytes, limit ${limits.maxItemBytes}`);
  }
  return { deviceId, ts, receivedAt, attributes, sizeBytes };
}


/** Validates one attribute value and returns its approximate DynamoDB size in bytes. */
function valueSize(value: unknown, path: string, depth: number, maxDepth: number): number {
  switch (typeof value) {
    case 'string':
      return Buffer.byteLength(value);
    case 'boolean':
      return FLAG_BYTES;
    case 'number': {
      const abs = Math.abs(value);
      if (abs !== 0 && (abs > MAX_NUMBER || abs < MIN_NUMBER)) {
        throw new Invalid('invalid_value', `${path}: number ${value} is outside DynamoDB's range (1e-130 .. 1e126)`);
      }
      return NUMBER_BYTES;
    }
    case 'object': {
      if (value === null) return FLAG_BYTES;
      if (depth + 1 > maxDepth) throw new Invalid('too_deep', `${path}: nested deeper than ${maxDepth} levels`);
      let size = 3;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) size += 1 + valueSize(value[i], `${path}[${i}]`, depth + 1, maxDepth);
        return size;
      }
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (k.length === 0 || k === PROTO) throw new Invalid('invalid_attribute_name', `${path}: nested attribute name ${JSON.stringify(k)} is not allowed (empty or __proto__)`);
        size += 1 + Buffer.byteLength(k) + valueSize(v, `${path}.${k}`, depth + 1, maxDepth);
      }
      return size;
    }
    default:
      throw new Invalid('invalid_value', `${path}: ${typeof value} is not a storable value`);
  }
}
