// The fast path of decoding, for the payload most devices send: one flat JSON object of numbers,
// ASCII strings, booleans and nulls, e.g. {"ts":1732480000123,"temperature":21.4,"mode":"heat"}.
// One pass over the bytes builds the reading directly: no UTF-8 decoding of the whole payload, no
// syntax pre-check, no JSON.parse tree to copy from, no scan for inexact numbers, no second walk to
// validate and size the values. Anything else — nesting, arrays, the {"ts","values"} form, escapes
// or non-ASCII bytes, numbers with more than 15 digits or an exponent, duplicate or doubtful
// names, any invalid input at all — returns undefined, and the general decoder (decode.ts) decides
// it. So the fast path never refuses and never accepts what the general one would not:
// test/unit/flat-decode.test.ts checks that it returns either undefined or exactly the general
// decoder's reading over generated payloads.
//
// A payload of a shape seen just before (the same names in the same order, as a device sends them
// message after message) becomes a FlatReading: no attribute object and no value strings are made;
// the reading keeps the payload's text, whose values the store's encoder copies as they stand
// (src/storage/dynamodb/wire.ts), and its attributes are parsed from that text only if something
// asks for them (the live tail, presence, a file sink).
import type { DecodeLimits } from './decode.ts';
import type { AttributeValue, Reading } from './reading.ts';
import { FLAG_BYTES, Invalid, NUMBER_BYTES, PROTO, RESERVED_ATTRIBUTES, SERVER_ATTRIBUTES_BYTES, decodeTs } from './reading-rules.ts';

/** Larger payloads take the general path (their cost is not in the per-message overhead). */
const MAX_FAST_PAYLOAD_BYTES = 4096;
/** Sums of at most 15 decimal digits are exact in a double, and so is every power of ten to 1e22. */
const MAX_DIGITS = 15;
const POW10: readonly number[] = Array.from({ length: 23 }, (_, k) => 10 ** k);
const MAX_NAME_LENGTH = 64;
const latin1 = (b: Buffer, start: number, end: number): string => (b as Buffer & { latin1Slice(start: number, end: number): string }).latin1Slice(start, end);
/** V8 makes a slice of 13 characters or more share its parent's memory (a sliced string). */
const MIN_SHARED_SLICE = 13;

/**
 * Characters [start, end) as a string of their own: a slice of the payload's text when V8 copies it
 * anyway, else fresh from the bytes. A sliced string would keep the whole payload text alive for as
 * long as the reading is queued, which the queue's byte bound does not count.
 */
function own(bytes: Buffer, text: string, start: number, end: number): string {
  return end - start < MIN_SHARED_SLICE ? text.slice(start, end) : latin1(bytes, start, end);
}

const enum Ch {
  Tab = 0x09, Lf = 0x0a, Cr = 0x0d, Space = 0x20, Quote = 0x22, Comma = 0x2c, Minus = 0x2d, Dot = 0x2e,
  Zero = 0x30, Nine = 0x39, Colon = 0x3a, Backslash = 0x5c, OpenCurly = 0x7b, CloseCurly = 0x7d,
  Tilde = 0x7e, Underscore = 0x5f,
}

/** Bytes of [A-Za-z0-9_], the attribute-name alphabet. */
const NAME_BYTE = new Uint8Array(128);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_') NAME_BYTE[c.charCodeAt(0)] = 1;

/** Payloads with more members take the general path. */
const MAX_MEMBERS = 64;
/** Member names of the last payload accepted here, in order (module state: decoding is synchronous). */
const shape: string[] = [];
let shapeLength = 0;
/** This payload's member names, in order. */
const names: string[] = [];
let allKnown = true;
/**
 * This payload's attribute names (its members but ts) and where their values stand, in order: the
 * values become strings and numbers only when the reading is built as an object.
 */
const attributeNames: string[] = [];
const enum Kind { Number, String, True, False, Null }
const valueKinds = new Uint8Array(MAX_MEMBERS);
const valueStarts = new Int32Array(MAX_MEMBERS);
const valueEnds = new Int32Array(MAX_MEMBERS);
const numberValues = new Float64Array(MAX_MEMBERS);
/**
 * An object with the attribute names of `shape`, in order, all in the object itself: a reading of
 * that shape is a copy of it with its values set. Built by JSON.parse, which sizes an object to its
 * members; an object grown one member at a time keeps the members past the fourth in a second
 * array, which costs memory for as long as the reading is queued and time to grow.
 */
let shapeTemplate: Record<string, AttributeValue> | undefined;

/** Outcome of the last scanned number (module state: the scanner is synchronous and not re-entered). */
let numberValue = 0;
let numberIsInteger = false;

/**
 * The payload's one reading when it is a flat object the fast path can decide, else undefined (the
 * caller then runs the general decoder, which also produces every error message).
 */
export function decodeFlatReading(payload: Uint8Array, deviceId: string, receivedAt: number, limits: DecodeLimits): Reading | undefined {
  const n = payload.byteLength;
  if (n > MAX_FAST_PAYLOAD_BYTES || n > limits.maxPayloadBytes || limits.maxReadingsPerMessage < 1) return undefined;
  // One native call turns the bytes into a string; everything after is JavaScript on that string
  // (a byte from 0x80 up becomes a character the scan refuses, so latin1 is exact here).
  const bytes = Buffer.isBuffer(payload) ? payload : Buffer.from(payload.buffer, payload.byteOffset, n);
  const b = latin1(bytes, 0, n);
  let i = skipWs(b, 0, n);
  if (b.charCodeAt(i) !== Ch.OpenCurly) return undefined;
  i = skipWs(b, i + 1, n);
  if (b.charCodeAt(i) === Ch.CloseCurly) return undefined; // {}: the general path names the error
  allKnown = true;
  let count = 0;
  let ts: unknown;
  let sizeBytes = SERVER_ATTRIBUTES_BYTES + Buffer.byteLength(deviceId) + 8;
  for (;;) {
    // "name". Devices send the same names message after message: while its bytes are scanned, the
    // name is compared with the one at the same position in the last payload this path accepted
    // (`shape`), whose string is reused (no new string; a key V8 has seen and a name already checked).
    if (b.charCodeAt(i) !== Ch.Quote) return undefined;
    const nameStart = i + 1;
    const member = count + (ts === undefined ? 0 : 1);
    const known = member < shapeLength ? (shape[member] as string) : '';
    let same = known !== '';
    let j = nameStart;
    for (;;) {
      const d = b.charCodeAt(j);
      if (!(d < 128 && NAME_BYTE[d] === 1)) break; // also NaN: past the end
      if (same && known.charCodeAt(j - nameStart) !== d) same = false;
      j++;
    }
    if (b.charCodeAt(j) !== Ch.Quote || j === nameStart || j - nameStart > MAX_NAME_LENGTH) return undefined;
    let name: string;
    if (same && known.length === j - nameStart) name = known;
    else {
      name = own(bytes, b, nameStart, j);
      if (name !== 'ts' && (name === 'values' || name === PROTO || RESERVED_ATTRIBUTES.has(name))) return undefined;
      allKnown = false;
    }
    if (member >= MAX_MEMBERS) return undefined;
    names[member] = name;
    i = skipWs(b, j + 1, n);
    if (b.charCodeAt(i) !== Ch.Colon) return undefined;
    i = skipWs(b, i + 1, n);
    // value: where it stands and what it is; a string or number of it is made only if needed.
    const c = b.charCodeAt(i);
    const valueStart = i;
    let kind: Kind;
    let valueBytes: number;
    if (c === Ch.Quote) {
      j = i + 1;
      // Printable ASCII without escapes: the bytes are the string.
      for (;;) {
        const d = b.charCodeAt(j);
        if (Number.isNaN(d) || d < Ch.Space || d > Ch.Tilde || d === Ch.Backslash) return undefined;
        if (d === Ch.Quote) break;
        j++;
      }
      kind = Kind.String;
      valueBytes = j - i - 1;
      i = j + 1;
    } else if (c === Ch.Minus || isDigit(c)) {
      i = scanNumber(b, i, n);
      if (i < 0) return undefined;
      kind = Kind.Number;
      valueBytes = NUMBER_BYTES;
    } else if (c === 0x74 && b.charCodeAt(i + 1) === 0x72 && b.charCodeAt(i + 2) === 0x75 && b.charCodeAt(i + 3) === 0x65) {
      kind = Kind.True;
      valueBytes = FLAG_BYTES;
      i += 4;
    } else if (c === 0x66 && b.charCodeAt(i + 1) === 0x61 && b.charCodeAt(i + 2) === 0x6c && b.charCodeAt(i + 3) === 0x73 && b.charCodeAt(i + 4) === 0x65) {
      kind = Kind.False;
      valueBytes = FLAG_BYTES;
      i += 5;
    } else if (c === 0x6e && b.charCodeAt(i + 1) === 0x75 && b.charCodeAt(i + 2) === 0x6c && b.charCodeAt(i + 3) === 0x6c) {
      kind = Kind.Null;
      valueBytes = FLAG_BYTES;
      i += 4;
    } else {
      return undefined; // objects, arrays, anything else
    }
    if (name === 'ts') {
      if (ts !== undefined) return undefined; // a second ts: the general path keeps the last
      if (kind === Kind.String) ts = b.slice(valueStart + 1, i - 1);
      else if (kind === Kind.Number && numberIsInteger) ts = numberValue;
      else return undefined;
    } else {
      if (count >= limits.maxAttributesPerReading) return undefined;
      attributeNames[count] = name;
      valueKinds[count] = kind;
      valueStarts[count] = valueStart;
      valueEnds[count] = i;
      numberValues[count] = numberValue;
      count++;
      sizeBytes += name.length + valueBytes;
    }
    i = skipWs(b, i, n);
    if (b.charCodeAt(i) === Ch.Comma) {
      i = skipWs(b, i + 1, n);
      continue;
    }
    if (b.charCodeAt(i) !== Ch.CloseCurly) return undefined;
    if (skipWs(b, i + 1, n) !== n) return undefined;
    break;
  }
  if (count === 0 || sizeBytes > limits.maxItemBytes) return undefined;
  let tsMs: number;
  try {
    tsMs = decodeTs(ts, receivedAt, limits.maxFutureSkewMs);
  } catch (err) {
    if (err instanceof Invalid) return undefined;
    throw err;
  }
  const members = count + (ts === undefined ? 0 : 1);
  // The shape seen again (so no name repeats another) and a text no longer than the size the queue
  // counts for the reading (no padding kept alive): the reading is its text.
  if (allKnown && members === shapeLength && n <= sizeBytes) return new FlatReading(deviceId, tsMs, receivedAt, sizeBytes, b);
  let template: Record<string, AttributeValue> | undefined;
  if (allKnown && members === shapeLength) {
    // Built once for a shape seen again (not for every payload of a fleet whose device types
    // alternate, where each payload changes the shape).
    if (shapeTemplate === undefined) {
      // Names are [A-Za-z0-9_] only (checked while scanning): quoted as they are.
      let json = '{';
      for (let k = 0; k < count; k++) json += `${k === 0 ? '' : ','}"${attributeNames[k] as string}":null`;
      shapeTemplate = JSON.parse(`${json}}`) as Record<string, AttributeValue>;
    }
    template = shapeTemplate;
  }
  const attributes: Record<string, AttributeValue> = template === undefined ? {} : { ...template };
  for (let k = 0; k < count; k++) attributes[attributeNames[k] as string] = valueAt(bytes, b, k);
  if (!allKnown) {
    // A new name may repeat another (JSON.parse keeps the last: the general path decides);
    // otherwise this payload's names become the shape to compare with.
    let own = 0;
    for (const key in attributes) if (Object.hasOwn(attributes, key)) own++;
    if (own !== count) return undefined;
    shapeLength = members;
    for (let k = 0; k < shapeLength; k++) shape[k] = names[k] as string;
    shapeTemplate = undefined;
  }
  return { deviceId, ts: tsMs, receivedAt, attributes, sizeBytes };
}

/** The value of attribute k of the payload just scanned. */
function valueAt(bytes: Buffer, b: string, k: number): AttributeValue {
  switch (valueKinds[k] as Kind) {
    case Kind.Number:
      return numberValues[k] as number;
    case Kind.String:
      return own(bytes, b, (valueStarts[k] as number) + 1, (valueEnds[k] as number) - 1);
    case Kind.True:
      return true;
    case Kind.False:
      return false;
    default:
      return null;
  }
}

/**
 * A reading decoded by the fast path from a payload of a known shape: the payload's text stands in
 * for its attributes. That text is one flat JSON object of [A-Za-z0-9_] names, printable-ASCII
 * strings without escapes, numbers of at most 15 digits without exponent, booleans and nulls, no
 * name twice; the store's encoder copies its values as they stand. The attributes are parsed from it
 * the first time they are asked for.
 */
export class FlatReading implements Reading {
  private parsed: Record<string, AttributeValue> | undefined;

  constructor(
    readonly deviceId: string,
    readonly ts: number,
    readonly receivedAt: number,
    readonly sizeBytes: number,
    readonly flatText: string,
  ) {}

  get attributes(): Readonly<Record<string, AttributeValue>> {
    if (this.parsed === undefined) {
      const { ts: _ts, ...attributes } = JSON.parse(this.flatText) as Record<string, AttributeValue>;
      this.parsed = attributes;
    }
    return this.parsed;
  }
}

function isDigit(c: number): boolean {
  return c >= Ch.Zero && c <= Ch.Nine; // false for NaN (past the end)
}

function skipWs(b: string, i: number, n: number): number {
  while (i < n) {
    const c = b.charCodeAt(i);
    if (c !== Ch.Space && c !== Ch.Lf && c !== Ch.Cr && c !== Ch.Tab) break;
    i++;
  }
  return i;
}

/**
 * A JSON number of at most 15 digits and no exponent, valued exactly as JSON.parse would (the
 * digits as an integer, divided by a power of ten: both exact, the quotient correctly rounded);
 * the value goes to `numberValue`. Returns the index after it, or -1 to leave it to the general path.
 */
function scanNumber(b: string, i: number, n: number): number {
  let negative = false;
  if (b.charCodeAt(i) === Ch.Minus) {
    negative = true;
    i++;
  }
  let digits = 0;
  let mantissa = 0;
  let c = b.charCodeAt(i);
  if (c === Ch.Zero) {
    i++;
    digits++;
    c = b.charCodeAt(i);
    if (isDigit(c)) return -1; // leading zero: invalid JSON
  } else {
    if (!isDigit(c)) return -1;
    while (isDigit(c)) {
      mantissa = mantissa * 10 + (c - Ch.Zero);
      digits++;
      c = b.charCodeAt(++i);
    }
  }
  let fraction = 0;
  if (c === Ch.Dot) {
    c = b.charCodeAt(++i);
    if (!isDigit(c)) return -1;
    while (isDigit(c)) {
      mantissa = mantissa * 10 + (c - Ch.Zero);
      digits++;
      fraction++;
      c = b.charCodeAt(++i);
    }
  }
  if (digits > MAX_DIGITS || c === 0x65 || c === 0x45 || i > n) return -1;
  const magnitude = fraction === 0 ? mantissa : mantissa / (POW10[fraction] as number);
  numberValue = negative ? -magnitude : magnitude;
  numberIsInteger = Number.isInteger(numberValue);
  return i;
}
