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

/** Fixed pieces of an item, as bytes (copied with a loop, no string checks). */
const ascii = (text: string): Uint8Array => Uint8Array.from(text, (c) => c.charCodeAt(0));
const OPEN = ascii('{');
const COMMA = ascii(',');
const CLOSE = ascii('}');
const DEVICE_ID = ascii('"deviceId":{"S":');
const TS = ascii('},"ts":{"N":"');
const RECEIVED_AT = ascii('"},"receivedAt":{"N":"');
const EXPIRES_AT = ascii('"},"expiresAt":{"N":"');
const END_NUMBER = ascii('"}');
const STRING = ascii('{"S":');
const NUMBER = ascii('{"N":"');
const TRUE = ascii('{"BOOL":true}');
const FALSE = ascii('{"BOOL":false}');
const NULL = ascii('{"NULL":true}');
const LIST = ascii('{"L":[');
const END_LIST = ascii(']}');
const MAP = ascii('{"M":{');
const END_MAP = ascii('}}');
const COLON = ascii(':');
const CLOSE_COMMA = ascii('},');

/** The reading as one DynamoDB item in wire JSON: {deviceId, ts, receivedAt, ...attributes, expiresAt?}. */
export function encodeItem(reading: Reading, retentionDays: number | undefined): string {
  // Written into one reused byte buffer and read out as one string: no tree of partial strings.
  const w = writer;
  w.reset();
  writeItem(w, reading, retentionDays);
  return w.done();
}

export interface EncodedBatch {
  /** The BatchWriteItem body for the readings that could be encoded (undefined when none could). */
  readonly body: string | undefined;
  /** Those readings, in order. */
  readonly encoded: Reading[];
  /** The readings that cannot be encoded, each with why. */
  readonly unencodable: { readonly reading: Reading; readonly message: string }[];
}

/** BatchWriteItem's body around its items, for `encodeBatch` (as bytes) and `batchWriteBody`. */
const BODY_START = '{"RequestItems":{';
const PUT = '{"PutRequest":{"Item":';
const PUT_CLOSE = '}}';
const BODY_CLOSE = ']},"ReturnConsumedCapacity":"TOTAL"}';
const PUT_FIRST = ascii(PUT);
const PUT_NEXT = ascii(`,${PUT}`);
const PUT_END = ascii(PUT_CLOSE);
const BODY_END = ascii(BODY_CLOSE);

/**
 * The whole BatchWriteItem body of a batch, written into the one reused buffer and read out as one
 * string: the same text as `batchWriteBody(tableName, readings.map(encodeItem))` without a string
 * per item (test/wire.test.ts checks it). A reading that cannot be encoded is left out and named.
 */
export function encodeBatch(tableName: string, readings: readonly Reading[], retentionDays: number | undefined): EncodedBatch {
  const w = writer;
  w.reset();
  w.ascii(BODY_START);
  w.jsonString(tableName);
  w.ascii(':[');
  const encoded: Reading[] = [];
  const unencodable: { reading: Reading; message: string }[] = [];
  for (const reading of readings) {
    const start = w.length;
    const wide = w.hasWide;
    w.bytes(encoded.length === 0 ? PUT_FIRST : PUT_NEXT);
    try {
      writeItem(w, reading, retentionDays);
    } catch (err) {
      // This reading alone (whatever the error): left out, the others go.
      w.rewind(start, wide);
      unencodable.push({ reading, message: (err as Error).message });
      continue;
    }
    w.bytes(PUT_END);
    encoded.push(reading);
  }
  w.bytes(BODY_END);
  return { body: encoded.length > 0 ? w.done() : undefined, encoded, unencodable };
}

function writeItem(w: ItemWriter, reading: Reading, retentionDays: number | undefined): void {
  w.bytes(OPEN);
  const flatText = reading.flatText;
  if (flatText !== undefined) w.flatAttributes(flatText);
  else {
    const attributes = reading.attributes;
    for (const name in attributes) {
      w.prefix(name);
      writeValue(w, attributes[name] as AttributeValue, name);
      w.bytes(COMMA);
    }
  }
  w.bytes(DEVICE_ID);
  w.jsonString(reading.deviceId);
  w.bytes(TS);
  w.number(reading.ts, 'ts');
  w.bytes(RECEIVED_AT);
  w.number(reading.receivedAt, 'receivedAt');
  if (retentionDays !== undefined) {
    w.bytes(EXPIRES_AT);
    w.number(Math.floor(reading.ts / 1000) + retentionDays * SECONDS_PER_DAY, 'expiresAt');
  }
  w.bytes(END_NUMBER);
  w.bytes(CLOSE);
}

/** `"name":` as bytes, for the attribute names seen lately (devices repeat them), bounded. */
interface Prefix {
  readonly bytes: Uint8Array;
  /** Has bytes from 0x80 up (a non-ASCII name). */
  readonly wide: boolean;
}
const prefixes = new Map<string, Prefix>();
const MAX_PREFIXES = 4096;

/** Appends to a reused buffer; `done` returns it as one string. Synchronous use only. */
class ItemWriter {
  private buf = Buffer.allocUnsafe(16 * 1024);
  private at = 0;
  /** Whether bytes from 0x80 up were written (then the buffer is read back as UTF-8, else as latin1, faster). */
  private wide = false;

  reset(): void {
    this.at = 0;
    this.wide = false;
  }

  /** Bytes written so far. */
  get length(): number {
    return this.at;
  }

  /** Whether bytes from 0x80 up were written so far. */
  get hasWide(): boolean {
    return this.wide;
  }

  /** Drops what was written after `length` was `at` (a value that could not be encoded). */
  rewind(at: number, wide: boolean): void {
    this.at = at;
    this.wide = wide;
  }

  /** Bytes as they are (fixed pieces are ASCII). */
  bytes(b: Uint8Array): void {
    if (this.at + b.length > this.buf.length) this.grow(b.length);
    this.at = put(this.buf, this.at, b);
  }

  /** `"name":`, its bytes cached by name. */
  prefix(name: string): void {
    let p = prefixes.get(name);
    if (p === undefined) {
      if (prefixes.size >= MAX_PREFIXES) prefixes.clear();
      const bytes = Buffer.from(`${JSON.stringify(name)}:`, 'utf8');
      p = { bytes: new Uint8Array(bytes), wide: bytes.length !== name.length + 3 };
      prefixes.set(name, p);
    }
    if (p.wide) this.wide = true;
    this.bytes(p.bytes);
  }

  /** Text that is ASCII almost always (number texts); the rest goes as UTF-8. */
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

  /**
   * `String(n)`, DynamoDB's N text, written straight into the buffer: a safe integer (timestamps,
   * counts) as its digits; a number of at most 15 significant digits from 1e-6 up (what sensors
   * send: 21.47) as the shortest decimal that reads back as it; anything else through String.
   * test/wire.test.ts checks the result against String over generated numbers.
   */
  number(n: number, path: string): void {
    const abs = Math.abs(n);
    if (Number.isSafeInteger(n)) {
      // -0 is written "0", as String(-0) is.
      if (this.at + 17 > this.buf.length) this.grow(17);
      if (n < 0) this.buf[this.at++] = 0x2d;
      this.at = integerDigits(this.buf, this.at, abs);
      return;
    }
    if (abs >= 1e-6 && abs < 1e15) {
      // The fewest fraction digits k whose decimal reads back as the number (division of two exact
      // doubles is correctly rounded, so r / 10^k === abs means that decimal parses to abs). With
      // at most 15 significant digits no two decimals read back as one double, so this is the
      // shortest one, which is the one String gives, written in the same (fixed) notation.
      for (let k = 1, scale = 10; k <= 15; k++, scale *= 10) {
        const r = Math.round(abs * scale);
        if (r >= 1e15) break;
        if (r / scale !== abs) continue;
        if (this.at + 19 > this.buf.length) this.grow(19);
        const buf = this.buf;
        let at = this.at;
        if (n < 0) buf[at++] = 0x2d;
        const whole = Math.floor(r / scale);
        at = integerDigits(buf, at, whole);
        buf[at++] = 0x2e; // '.'
        this.at = paddedDigits(buf, at, r - whole * scale, k);
        return;
      }
    }
    this.ascii(numberText(n, path));
  }

  /**
   * The attributes of a flat reading's text (flat-decode.ts: one flat object of [A-Za-z0-9_] names,
   * printable-ASCII strings without escapes, numbers of at most 15 digits without exponent,
   * booleans and nulls), each as `"name":value,` in wire JSON, ts left out: names and strings are
   * copied as they stand, and so is a number already in its canonical form (String's), which
   * the sensors' numbers mostly are; any other number is written from its value.
   */
  flatAttributes(text: string): void {
    const n = text.length;
    // The text's bytes, read below with typed-array loads (cheaper than charCodeAt on a string).
    if (scratch.length < n + 1) scratch = Buffer.allocUnsafe(Math.max(n + 1, scratch.length * 2));
    const t = scratch;
    t.write(text, 0, n, 'latin1');
    t[n] = 0x7d; // a closing brace past the end stops every scan below
    // At most 3 bytes out per character in (`"a":1` becomes `"a":{"N":"1"},`); numbers written
    // from their value grow the buffer themselves.
    if (this.at + 3 * n + 64 > this.buf.length) this.grow(3 * n + 64);
    let buf = this.buf;
    let at = this.at;
    let i = 0;
    for (;;) {
      // To the next name's opening quote, or past the closing brace.
      let c = t[i] as number;
      while (c !== 0x22) {
        if (c === 0x7d) {
          this.at = at;
          return;
        }
        c = t[++i] as number;
      }
      const nameStart = i;
      do i++;
      while (t[i] !== 0x22);
      const nameEnd = ++i;
      const isTs = nameEnd - nameStart === 4 && t[nameStart + 1] === 0x74 && t[nameStart + 2] === 0x73;
      // Past the colon and the whitespace around it, to the value.
      for (c = t[i] as number; c !== 0x3a; c = t[++i] as number);
      for (c = t[++i] as number; c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09; c = t[++i] as number);
      if (!isTs) {
        at = put(buf, at, t, nameStart, nameEnd);
        buf[at++] = 0x3a;
      }
      if (c === 0x22) {
        // A string: its text is its JSON.
        let end = i + 1;
        while (t[end] !== 0x22) end++;
        end++;
        if (!isTs) {
          at = put(buf, at, STRING);
          at = put(buf, at, t, i, end);
          at = put(buf, at, CLOSE_COMMA);
        }
        i = end;
        continue;
      }
      if (c === 0x74 || c === 0x66 || c === 0x6e) {
        // true, false, null (never ts, which is a number or a string)
        at = put(buf, at, c === 0x74 ? TRUE : c === 0x66 ? FALSE : NULL);
        buf[at++] = 0x2c;
        i += c === 0x66 ? 5 : 4;
        continue;
      }
      // A number: -?digits(.digits)?
      const start = i;
      let dot = -1;
      for (;;) {
        if (c === 0x2e) dot = i;
        else if (!((c >= 0x30 && c <= 0x39) || c === 0x2d)) break;
        c = t[++i] as number;
      }
      if (isTs) continue;
      if (isCanonical(t, start, i, dot)) {
        at = put(buf, at, NUMBER);
        at = put(buf, at, t, start, i);
        at = put(buf, at, END_NUMBER);
        buf[at++] = 0x2c;
        continue;
      }
      this.at = at;
      this.bytes(NUMBER);
      this.number(Number(text.slice(start, i)), text.slice(nameStart + 1, nameEnd - 1));
      this.bytes(END_NUMBER);
      this.bytes(COMMA);
      if (this.at + 3 * (n - i) + 64 > this.buf.length) this.grow(3 * (n - i) + 64);
      buf = this.buf;
      at = this.at;
    }
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

/** Copies `bytes[from, to)` into `buf` at `at` (room made by the caller); returns the index after them. */
function put(buf: Buffer, at: number, bytes: Uint8Array, from = 0, to = bytes.length): number {
  for (let k = from; k < to; k++) buf[at++] = bytes[k] as number;
  return at;
}

/**
 * Whether the JSON number text t[start, end) (at most 15 digits, no exponent; `dot` the index of
 * its point or -1) is what String prints for its value, so that it can be copied as it stands:
 * not -0, no trailing zero after the point, and not below 1e-6 (String writes those with an
 * exponent). With at most 15 significant digits no shorter decimal reads back as the same double,
 * so String's shortest form is the text itself. test/wire.test.ts checks it against String.
 */
function isCanonical(t: Uint8Array, start: number, end: number, dot: number): boolean {
  const first = t[start] === 0x2d ? start + 1 : start;
  if (t[first] === 0x30) {
    if (dot === -1) return first === start; // 0 is, -0 is not
    // 0.x: below 1e-6 when six or more zeros follow the point
    let zeros = 0;
    for (let k = dot + 1; k < end && t[k] === 0x30; k++) zeros++;
    if (zeros >= 6) return false;
  }
  return dot === -1 || t[end - 1] !== 0x30;
}

/** The decimal digits of `v` (a safe integer, >= 0) at `at`; returns the index after them. */
function integerDigits(buf: Buffer, at: number, v: number): number {
  let length = 1;
  for (let rest = v; rest >= 10; rest = Math.floor(rest / 10)) length++;
  return paddedDigits(buf, at, v, length);
}

/** `v` (a safe integer, 0 <= v < 10^width) as exactly `width` digits, leading zeros included. */
function paddedDigits(buf: Buffer, at: number, v: number, width: number): number {
  for (let i = at + width - 1; i >= at; i--) {
    const q = Math.floor(v / 10);
    buf[i] = 0x30 + (v - q * 10);
    v = q;
  }
  return at + width;
}

const writer = new ItemWriter();
/** A flat reading's text as bytes, while ItemWriter.flatAttributes reads it. */
let scratch = Buffer.allocUnsafe(4097);

/** One attribute value in DynamoDB's AttributeValue form, nested maps and lists included. */
function writeValue(w: ItemWriter, value: AttributeValue, path: string): void {
  switch (typeof value) {
    case 'string':
      w.bytes(STRING);
      w.jsonString(value);
      return w.bytes(CLOSE);
    case 'number':
      w.bytes(NUMBER);
      w.number(value, path);
      return w.bytes(END_NUMBER);
    case 'boolean':
      return w.bytes(value ? TRUE : FALSE);
    case 'object': {
      if (value === null) return w.bytes(NULL);
      if (Array.isArray(value)) {
        w.bytes(LIST);
        for (let i = 0; i < value.length; i++) {
          if (i > 0) w.bytes(COMMA);
          writeValue(w, value[i] as AttributeValue, path);
        }
        return w.bytes(END_LIST);
      }
      w.bytes(MAP);
      let first = true;
      for (const k in value) {
        if (!first) w.bytes(COMMA);
        w.jsonString(k);
        w.bytes(COLON);
        writeValue(w, value[k] as AttributeValue, path);
        first = false;
      }
      return w.bytes(END_MAP);
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
  let out = BODY_START + JSON.stringify(tableName) + ':[';
  for (let i = 0; i < items.length; i++) out += (i === 0 ? PUT : `,${PUT}`) + items[i] + PUT_CLOSE;
  return out + BODY_CLOSE;
}
