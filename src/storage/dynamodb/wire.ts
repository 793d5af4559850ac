// Encodes a reading straight into DynamoDB's wire JSON (the AttributeValue form BatchWriteItem
// carries), once, with no intermediate item object and no SDK marshalling: JSON string literals and
// canonical number texts written into one reused byte buffer. test/wire.test.ts proves it equal to
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
  // Written into one reused byte buffer and read out as one string: no tree of partial strings.
  const w = writer;
  w.reset();
  w.ascii('{');
  const attributes = reading.attributes;
  for (const name in attributes) {
    w.ascii(memberPrefix(name));
    writeValue(w, attributes[name] as AttributeValue, name);
    w.ascii(',');
  }
  w.ascii('"deviceId":{"S":');
  w.jsonString(reading.deviceId);
  w.ascii('},"ts":{"N":"');
  w.ascii(numberText(reading.ts, 'ts'));
  w.ascii('"},"receivedAt":{"N":"');
  w.ascii(numberText(reading.receivedAt, 'receivedAt'));
  w.ascii('"}');
  if (retentionDays !== undefined) {
    w.ascii(',"expiresAt":{"N":"');
    w.ascii(numberText(Math.floor(reading.ts / 1000) + retentionDays * SECONDS_PER_DAY, 'expiresAt'));
    w.ascii('"}');
  }
  w.ascii('}');
  return w.done();
}

/** Appends text to a reused buffer; `done` returns it as one string. Synchronous use only. */
class ItemWriter {
  private buf = Buffer.allocUnsafe(16 * 1024);
  private at = 0;
  /** Whether `text` wrote bytes from 0x80 up (then the buffer is read back as UTF-8, else as latin1, faster). */
  private wide = false;

  reset(): void {
    this.at = 0;
    this.wide = false;
  }

  /** Text that is ASCII almost always (fixed pieces, number texts, name prefixes); the rest goes as UTF-8. */
  ascii(s: string): void {
    const n = s.length;
    if (this.at + n > this.buf.length) this.grow(n);
    const buf = this.buf;
    let at = this.at;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c > 0x7f) {
        this.at = at;
        return this.text(s.slice(i));
      }
      buf[at++] = c;
    }
    this.at = at;
  }

  /** Any text, as UTF-8. */
  text(s: string): void {
    const max = s.length * 3;
    if (this.at + max > this.buf.length) this.grow(max);
    const written = this.buf.write(s, this.at, 'utf8');
    if (written !== s.length) this.wide = true; // a character from 0x80 up takes two bytes or more
    this.at += written;
  }

  /** `JSON.stringify(s)`: printable ASCII without quotes or backslashes is copied as it is. */
  jsonString(s: string): void {
    const n = s.length;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return this.text(JSON.stringify(s));
    }
    if (this.at + n + 2 > this.buf.length) this.grow(n + 2);
    const buf = this.buf;
    let at = this.at;
    buf[at++] = 0x22;
    for (let i = 0; i < n; i++) buf[at++] = s.charCodeAt(i);
    buf[at++] = 0x22;
    this.at = at;
  }

  done(): string {
    return this.buf.toString(this.wide ? 'utf8' : 'latin1', 0, this.at);
  }

  private grow(more: number): void {
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + more));
    this.buf.copy(next, 0, 0, this.at);
    this.buf = next;
  }
}

const writer = new ItemWriter();

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

/** One attribute value in DynamoDB's AttributeValue form, nested maps and lists included. */
function writeValue(w: ItemWriter, value: AttributeValue, path: string): void {
  switch (typeof value) {
    case 'string':
      w.ascii('{"S":');
      w.jsonString(value);
      return w.ascii('}');
    case 'number':
      w.ascii('{"N":"');
      w.ascii(numberText(value, path));
      return w.ascii('"}');
    case 'boolean':
      return w.ascii(value ? '{"BOOL":true}' : '{"BOOL":false}');
    case 'object': {
      if (value === null) return w.ascii('{"NULL":true}');
      if (Array.isArray(value)) {
        w.ascii('{"L":[');
        for (let i = 0; i < value.length; i++) {
          if (i > 0) w.ascii(',');
          writeValue(w, value[i] as AttributeValue, path);
        }
        return w.ascii(']}');
      }
      w.ascii('{"M":{');
      let first = true;
      for (const k in value) {
        if (!first) w.ascii(',');
        w.jsonString(k);
        w.ascii(':');
        writeValue(w, value[k] as AttributeValue, path);
        first = false;
      }
      return w.ascii('}}');
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
